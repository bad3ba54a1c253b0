"""Review of field proposals: a supervisor reads the pending ones beside what the case holds
now (GET /proposals?status=pending, GET /cases/{id}), accepts the work address and rejects the
work phone, each with a note (POST /proposals/{id}/review with If-Match, the ETag of
GET /proposals/{id}); the case then holds the address and not the phone, and a review that
another supervisor already made is not made again."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


def test_a_supervisor_accepts_one_proposal_and_rejects_another(console, server):
    team = server.day_team
    address, phone = team["proposals"]["address"], team["proposals"]["phone"]
    case = team["proposal_case"]
    reviews = []
    console.page.on("request", lambda r: reviews.append(r.headers.get("if-match"))
                    if r.url.endswith("/review") else None)
    console.open()
    console.sign_in(team["supervisor"])
    page = console.page
    page.get_by_role("link", name="现场信息审核").click()
    expect(page.get_by_role("heading", name="现场信息审核")).to_be_visible()
    cards = page.locator("article.proposal")
    expect(cards).to_have_count(2)
    moved = page.locator(f'article[data-proposal-id="{address["id"]}"]')
    called = page.locator(f'article[data-proposal-id="{phone["id"]}"]')
    expect(moved.locator("h2")).to_contain_text(case["contract_no"])
    expect(moved.locator("p.proposed")).to_contain_text(address["text"])
    expect(moved).to_contain_text("Carol Zhao")
    expect(moved).to_contain_text("learnt at the door (address)")
    expect(moved.locator(".case-now ul.addresses")).not_to_contain_text(address["text"])
    expect(called.locator("p.proposed")).to_contain_text("单位电话: 13922223333")
    console.shot("proposals")

    moved.get_by_label("审核说明").fill("Confirmed with the landlord")
    moved.get_by_role("button", name="接受").click()
    expect(page.locator("#proposal-outcome")).to_have_text("已接受，已加入案件。")
    expect(cards).to_have_count(1)
    called.get_by_label("审核说明").fill("The number belongs to a neighbour")
    page.keyboard.press("Tab")  # by keyboard: the note, then accept, then reject
    expect(called.get_by_role("button", name="接受")).to_be_focused()
    page.keyboard.press("Tab")
    expect(called.get_by_role("button", name="驳回")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#proposal-outcome")).to_have_text("已驳回。")
    expect(page.get_by_text("没有待审核的现场信息。")).to_be_visible()
    assert len(reviews) == 2 and all(tag and tag.startswith('W/"proposal-') for tag in reviews)

    page.get_by_label("状态").select_option("accepted")
    page.get_by_role("button", name="显示").click()
    expect(moved.locator(".case-now ul.addresses")).to_contain_text(address["text"])  # the case now
    expect(moved.locator("p.reviewed")).to_contain_text("Confirmed with the landlord")
    expect(moved.get_by_role("button", name="接受")).to_have_count(0)
    console.shot("proposal-accepted")

    boss = token(server, team["supervisor"])
    _, detail = call(server, "GET", f"/cases/{case['id']}", token=boss)
    assert [a["text"] for a in detail["addresses"]].count(address["text"]) == 1
    _, rejected = call(server, "GET", f"/proposals/{phone['id']}", token=boss)
    assert (rejected["status"], rejected["review_note"]) == (
        "rejected", "The number belongs to a neighbour")
    assert detail["debtor"]["work_phone"] is None or not detail["debtor"]["work_phone"].endswith(
        phone["phone"][-4:])


def test_a_proposal_reviewed_meanwhile_is_not_reviewed_again(console, server):
    team = server.day_team
    case = team["proposal_case"]
    carol = token(server, "sz-carol")
    body = {"id": str(uuid.uuid4()), "kind": "contact", "note": "met her at the shop",
            "data": {"name": "Zhou Min", "relation": "sibling", "phone": "13644445555"}}
    status, _ = call(server, "POST", f"/cases/{case['id']}/proposals", body, token=carol)
    assert status in (200, 201)
    console.open()
    console.sign_in(team["supervisor"])
    page = console.page
    page.get_by_role("link", name="现场信息审核").click()
    card = page.locator(f'article[data-proposal-id="{body["id"]}"]')
    expect(card).to_contain_text("Zhou Min")

    other = token(server, team["supervisor"])  # another tab: the same proposal rejected first
    status, _ = call(server, "POST", f"/proposals/{body['id']}/review",
                     {"decision": "reject", "note": "duplicate"}, token=other)
    assert status == 200
    card.get_by_role("button", name="接受").click()
    expect(page.locator("#proposal-outcome")).to_have_text("该信息已由他人审核，列表已刷新。")
    expect(card).to_have_count(0)
    _, after = call(server, "GET", f"/proposals/{body['id']}", token=other)
    assert (after["status"], after["review_note"]) == ("rejected", "duplicate")
