"""The exceptions feed: a supervisor finds the silent phone among the open items and resolves
it with a note (POST /exceptions/{id}/resolve); a resolution without a note is not sent. An
administrator filters the feed by kind, collector and state (GET /exceptions?kind&state&
collector_id) and reads what to do in Chinese or English, from the item's action code and facts."""

from __future__ import annotations

import shutil
import time

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


def test_a_supervisor_resolves_an_exception(console, server):
    console.open()
    console.sign_in(server.supervisor)
    page = console.page
    page.get_by_role("link", name="异常事项").click()
    item = page.locator('article[data-kind="device_silent"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Bob Li")
    console.shot("exceptions")

    item.get_by_role("button", name="解决").click()
    expect(page.locator("#exception-outcome")).to_have_text("请填写处理说明。")
    expect(item.get_by_label("处理说明")).to_be_focused()
    page.keyboard.type("Bob's phone was in for repair; he syncs tonight.")
    item.get_by_role("button", name="解决").click()
    expect(page.locator("#exception-outcome")).to_have_text("已解决。")
    expect(item).to_have_count(0)
    console.shot("exception-resolved")

    status, resolved = call(server, "GET", "/exceptions?state=resolved&kind=device_silent",
                            token=token(server, server.supervisor))
    assert status == 200
    [done] = resolved["items"]
    assert done["resolution_note"] == "Bob's phone was in for repair; he syncs tonight."
    assert done["resolved_by_name"] is not None


def test_an_administrator_filters_the_feed_and_reads_the_actions_in_either_language(
        console, server):
    seed = server.admin_seed
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="异常事项").click()
    items = page.locator("article.exception")
    expect(items.filter(has_text=seed["collector_name"])).to_have_count(2)

    page.get_by_label("类型", exact=True).select_option("proposal_unreviewed")
    page.get_by_role("button", name="筛选").click()
    expect(items).to_have_count(3)  # Carol's, and the two of team SZ-2 (seed_supervisors_day)
    expect(page.locator('article.exception:not([data-kind="proposal_unreviewed"])')).to_have_count(0)
    proposal = items.filter(has_text=seed["collector_name"])
    expect(proposal).to_have_count(1)
    expect(proposal).to_have_attribute("data-action", "review_proposal")
    expect(proposal.get_by_role("heading")).to_have_text("审核现场提交的电话：接受或拒绝。")
    expect(proposal).to_contain_text("现场信息待审核")

    page.get_by_label("类型", exact=True).select_option("")
    page.get_by_label("外访员", exact=True).select_option(label=seed["collector_name"])
    page.get_by_role("button", name="筛选").click()
    expect(items).to_have_count(2)
    silent = page.locator('article[data-kind="device_silent"]')
    expect(silent.get_by_role("heading")).to_contain_text(
        "在手机「test phone」（android-14）上打开应用并同步")
    console.shot("exceptions-filtered")

    page.get_by_role("button", name="切换语言").click()
    expect(page.get_by_role("heading", name="Exceptions")).to_be_visible()
    # The filters applied are kept in the other language: Carol's two items, and only hers.
    expect(page.get_by_label("Collector", exact=True).locator("option:checked")).to_have_text(
        seed["collector_name"])
    expect(page.get_by_label("Open", exact=True)).to_be_checked()
    expect(page.get_by_label("Resolved", exact=True)).not_to_be_checked()
    expect(items).to_have_count(2)
    carols = page.locator("article.exception").filter(has_text=seed["collector_name"])
    expect(carols.and_(page.locator('[data-kind="device_silent"]')).get_by_role("heading")).to_contain_text(
        'Open the app on the phone "test phone" (android-14) and sync')
    expect(carols.and_(page.locator('[data-kind="proposal_unreviewed"]')).get_by_role("heading")).to_have_text(
        "Accept or reject the proposed phone.")
    console.shot("exceptions-english")

    # Resolved only, of any collector: the silent phone the supervisor resolved before, with no
    # buttons left.
    page.get_by_label("Collector", exact=True).select_option("")
    page.get_by_label("Open", exact=True).uncheck()
    page.get_by_label("Acknowledged", exact=True).uncheck()
    page.get_by_label("Resolved", exact=True).check()
    page.get_by_label("Kind", exact=True).select_option("device_silent")
    page.get_by_role("button", name="Filter").click()
    resolved = page.locator("article.exception")
    expect(resolved).to_have_count(1)
    expect(resolved).to_contain_text("Bob Li")
    expect(resolved.locator(".state")).to_have_text("Resolved")
    expect(resolved.get_by_role("button")).to_have_count(0)
    console.shot("exceptions-resolved")


def test_an_administrator_has_a_file_the_server_failed_to_make_made_again(console, server):
    """Dan's photo's thumbnail failed for good (the store refused it: failed_file.py). The
    administrator reads why, repairs the store, presses "make it again"; the server's worker
    makes it, and the next scan resolves the item."""
    failed = server.admin_seed["failed_thumbnail"]
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="异常事项").click()
    page.get_by_label("类型", exact=True).select_option("server_file_failed")
    page.get_by_role("button", name="筛选").click()
    item = page.locator('article[data-kind="server_file_failed"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text(failed["contract_no"])
    expect(item.get_by_role("heading")).to_contain_text(
        "服务器重试后仍未能生成文件（site）：The job failed on an internal error "
        "(IsADirectoryError) after 4 attempt(s); see the server's logs。外访员无需处理")
    console.shot("exceptions-server-file-failed")

    shutil.rmtree(failed["blocked"])  # the administrator repairs the store
    item.get_by_role("button", name="重新生成").click()
    expect(page.locator("#exception-outcome")).to_have_text(
        "已排队重新生成；生成后，下次扫描会自动解决此事项。")
    admin = token(server, server.admin)
    deadline = time.monotonic() + 30
    while _thumbnail_status(server, admin, failed) != "complete":
        assert time.monotonic() < deadline, "the thumbnail was not made again"
        time.sleep(0.2)
    status, _ = call(server, "POST", "/exceptions/scan", token=admin)
    assert status == 200
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_text("没有待处理的异常。")).to_be_visible()
    expect(item).to_have_count(0)


def _thumbnail_status(server, admin: str, failed: dict) -> str:
    status, custody = call(server, "GET", f"/cases/{failed['case_id']}/evidence", token=admin)
    assert status == 200, custody
    (shown,) = [f for f in custody["files"] if f["id"] == failed["file_id"]]
    return shown["thumbnail_status"]
