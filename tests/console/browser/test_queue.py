"""The supervisor's case queue: filters and search over GET /cases, amounts in yuan, bulk
assignment through POST /assignments, labels in either language, and a session revoked
mid-form that comes back to sign-in and then to the form as it was left."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


def signed_in(console, server):
    console.open()
    console.sign_in(server.supervisor)
    expect(console.page.get_by_role("heading", name="案件队列")).to_be_visible()
    expect(console.page.locator("table.cases tbody tr").first).to_be_visible()
    return console.page


def rows(page):
    return page.locator("table.cases tbody tr")


def row(page, contract_no):
    return page.locator("table.cases tbody tr", has_text=contract_no)


def test_filter_search_and_assign_in_bulk(console, server):
    page = signed_in(console, server)
    expect(rows(page)).to_have_count(len(server.cases))
    held = server.cases[0]["contract_no"]
    expect(row(page, held).locator("td.holder")).to_have_text(server.route_collector)
    expect(row(page, held)).to_contain_text("¥10,500.00")  # 1,050,000 fen overdue
    console.shot("queue")

    page.get_by_label("仅未分配").check()
    page.get_by_role("button", name="筛选").click()
    expect(rows(page)).to_have_count(5)
    expect(row(page, held)).to_have_count(0)

    plate = server.cases[4]["plate"]
    page.get_by_label("搜索").fill(f"{plate[:2]}·{plate[2:]}")  # as written on the car
    page.get_by_role("button", name="筛选").click()
    expect(rows(page)).to_have_count(1)
    page.get_by_label("搜索").fill("")
    page.get_by_role("button", name="筛选").click()
    expect(rows(page)).to_have_count(5)

    chosen = [server.cases[3]["contract_no"], server.cases[4]["contract_no"]]
    for contract_no in chosen:
        page.get_by_label(f"选择 {contract_no}").check()
    expect(page.locator("#selected-count")).to_have_text("已选 2 件")
    page.get_by_label("分配给").select_option(label="Bob Li")
    page.get_by_label("原因").fill("closer to Bob's base")
    console.shot("bulk-assign-form")
    page.get_by_role("button", name="分配", exact=True).click()
    expect(page.locator("#assign-outcome")).to_have_text("已分配 2 件，0 件未变。")
    expect(rows(page)).to_have_count(3)  # still filtered to the unassigned
    console.shot("bulk-assigned")

    page.get_by_label("仅未分配").uncheck()
    page.get_by_role("button", name="筛选").click()
    for contract_no in chosen:
        expect(row(page, contract_no).locator("td.holder")).to_have_text("Bob Li")


def test_labels_switch_to_english_and_keep_the_choice(console, server):
    page = signed_in(console, server)
    page.get_by_role("button", name="切换语言").click()
    expect(page.get_by_role("heading", name="Case queue")).to_be_visible()
    expect(page.get_by_label("Unassigned only")).to_be_visible()
    expect(page.locator("table.cases thead")).to_contain_text("Days past due")
    console.shot("queue-english")
    page.reload()
    expect(page.get_by_role("heading", name="Case queue")).to_be_visible()
    page.get_by_role("button", name="Switch language").click()
    expect(page.get_by_role("heading", name="案件队列")).to_be_visible()


def test_a_revoked_session_returns_to_the_form_as_it_was(console, server):
    page = signed_in(console, server)
    contract_no = server.cases[5]["contract_no"]
    page.get_by_label(f"选择 {contract_no}").check()
    page.get_by_label("分配给").select_option(label="Bob Li")
    page.get_by_label("原因").fill("half-filled before the revocation")

    status, _ = call(server, "POST", f"/admin/users/{server.supervisor_id}/revoke",
                     token=token(server, server.admin))
    assert status == 204
    console.expect(401, "/assignments")
    console.expect(401, "/auth/refresh")
    page.get_by_role("button", name="分配", exact=True).click()

    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(re.compile("会话已结束"))
    console.shot("session-ended")
    console.sign_in(server.supervisor)
    expect(page).to_have_url(re.compile(r"#/queue$"))
    expect(page.get_by_label("原因")).to_have_value("half-filled before the revocation")
    expect(page.get_by_label("分配给")).to_have_value(str(server.collectors["Bob Li"]))
    expect(page.get_by_label(f"选择 {contract_no}")).to_be_checked()
    expect(page.locator("#selected-count")).to_have_text("已选 1 件")
    page.get_by_role("button", name="分配", exact=True).click()
    expect(page.locator("#assign-outcome")).to_have_text("已分配 1 件，0 件未变。")
    expect(page.get_by_label("原因")).to_have_value("")


def test_an_expired_access_token_is_renewed_without_a_word(console, server):
    page = signed_in(console, server)
    page.evaluate("""() => {
        const session = JSON.parse(sessionStorage.getItem('fv.session'));
        session.access = 'expired';
        sessionStorage.setItem('fv.session', JSON.stringify(session));
    }""")
    console.expect(401, "/cases")
    page.get_by_role("button", name="筛选").click()
    expect(rows(page).first).to_be_visible()
    expect(page.get_by_role("heading", name="案件队列")).to_be_visible()
    renewed = page.evaluate("JSON.parse(sessionStorage.getItem('fv.session')).access")
    assert renewed != "expired"
