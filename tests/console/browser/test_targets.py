"""A supervisor sets the month's targets of the team's collectors (PUT /targets, typed in yuan,
sent in fen) and reads the progress against them (GET /progress)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


def test_a_supervisor_sets_a_collectors_targets_and_sees_progress_against_them(console, server):
    alice = server.collectors[server.route_collector]
    console.open()
    console.sign_in(server.supervisor)
    page = console.page
    page.get_by_role("link", name="目标与进度").click()
    page.get_by_label(f"回款目标（元） · {server.route_collector}").fill("50000")
    page.get_by_label(f"外访目标（次） · {server.route_collector}").fill("20")
    page.get_by_role("button", name="保存目标").click()
    expect(page.get_by_role("status")).to_have_text("目标已保存。")
    row = page.locator(f'table.progress-table tr[data-collector-id="{alice}"]')
    expect(row.locator("td.recovered")).to_contain_text("/ ¥50,000.00")
    expect(row.locator("td.visits")).to_contain_text("/ 20")
    console.shot("targets")

    _, targets = call(server, "GET", "/targets", token=token(server, server.supervisor))
    [set_for_alice] = [c for c in targets["collectors"] if c["collector_id"] == alice]
    assert (set_for_alice["recovered_fen"], set_for_alice["visits"]) == (5_000_000, 20)
    page.reload()
    money = page.get_by_label(f"回款目标（元） · {server.route_collector}")
    expect(money).to_have_value("50000.00")
