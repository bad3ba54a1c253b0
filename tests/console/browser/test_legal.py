"""Legal staff find a case by its plate (GET /cases?q=) and open its file and timeline
(GET /cases/{id}, GET /cases/{id}/timeline), by keyboard alone."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_find_a_case_by_plate_and_read_its_timeline(console, server):
    case = server.cases[0]
    console.open()
    page = console.page
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type(server.legal)
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/legal$"))
    expect(page.get_by_label("搜索")).to_be_focused()

    page.keyboard.type(f"{case['plate'][:2]} {case['plate'][2:]}")  # spaces are ignored
    page.keyboard.press("Enter")
    found = page.locator("table.cases tbody tr")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(case["contract_no"])
    expect(found).to_contain_text("plate")
    console.shot("legal-search")

    link = page.get_by_role("link", name=case["contract_no"])
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/case/{case['id']}$"))
    expect(page.get_by_role("heading", name=f"案件 {case['contract_no']}")).to_be_visible()
    expect(page.locator("#case-overdue")).to_have_text("¥10,500.00")
    entries = page.locator("ol.timeline li")
    expect(entries.first).to_be_visible()
    expect(entries.first.locator("time")).to_contain_text("Asia/Shanghai")  # the debtor's time too
    expect(page.locator('ol.timeline li[data-kind="assignment"]')).to_contain_text("分配")
    console.shot("case-timeline")

    page.get_by_role("link", name="返回").click()
    expect(page.get_by_label("搜索")).to_have_value(f"{case['plate'][:2]} {case['plate'][2:]}")
    expect(found).to_have_count(1)  # the search is still there
