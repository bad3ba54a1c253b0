"""The exceptions feed: a supervisor finds the silent phone among the open items and resolves
it with a note (POST /exceptions/{id}/resolve); a resolution without a note is not sent."""

from __future__ import annotations

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
