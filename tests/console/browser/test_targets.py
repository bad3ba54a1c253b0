"""A supervisor sets the month's targets of the team's collectors and of the team itself (PUT
/targets, typed in yuan, sent in fen) and reads the progress against them for the month, a week
or a day (GET /progress?period=) beside the leaderboard (GET /progress/leaderboard)."""

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


def yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def test_the_teams_own_target_the_leaderboard_and_a_week_and_a_day(console, server):
    team = server.day_team
    carol, dan = team["collectors"]["Carol Zhao"], team["collectors"]["Dan Chen"]
    console.open()
    console.sign_in(team["supervisor"])
    page = console.page
    page.get_by_role("link", name="目标与进度").click()
    page.get_by_label("回款目标（元） · Carol Zhao").fill("30000")
    page.get_by_label("外访目标（次） · Carol Zhao").fill("10")
    page.get_by_label("回款目标（元） · 团队").fill("100000")
    page.get_by_label("外访目标（次） · 团队").fill("40")
    page.get_by_role("button", name="保存目标").click()
    expect(page.get_by_role("status")).to_have_text("目标已保存。")
    team_row = page.locator("table.progress-table tr.team")
    expect(team_row.locator("td.recovered")).to_contain_text("/ ¥100,000.00")
    expect(team_row.locator("td.visits")).to_contain_text("/ 40")
    expect(page.get_by_text("未设团队目标")).to_have_count(0)  # the team's own, not the sum

    board = page.locator("table.leaderboard tbody tr")
    expect(board).to_have_count(2)
    expect(board.nth(0)).to_have_attribute("data-collector-id", str(carol))  # a target: a score
    expect(board.nth(0)).to_contain_text("¥30,000.00")
    expect(board.nth(0).locator("td.compliance")).to_have_text("100.0%")  # no visit this month
    expect(board.nth(1)).to_have_attribute("data-collector-id", str(dan))  # none: ranked last
    expect(board.nth(1).locator("td.score")).to_have_text("—")
    console.shot("team-target-and-leaderboard")

    boss = token(server, team["supervisor"])
    _, month = call(server, "GET", "/targets", token=boss)
    assert (month["team"]["recovered_fen"], month["team"]["visits"], month["team"]["derived"]) == (
        10_000_000, 40, False)
    day = page.get_by_label("日期").input_value()
    for period in ("week", "day"):
        page.get_by_label("周期").select_option(period)
        page.get_by_role("button", name="显示").click()
        _, shown = call(server, "GET", f"/progress?period={period}&date={day}", token=boss)
        share = shown["team"]["against_target"]["recovered_fen"]["target"]
        assert share < 10_000_000  # a share of the month's, not the month's
        expect(page.locator("p.period-range")).to_contain_text(
            f"{shown['first_day']} 至 {shown['last_day']}")
        expect(team_row.locator("td.recovered")).to_contain_text(f"/ {yuan(share)}")
        expect(board).to_have_count(2)
        console.shot(f"progress-{period}")
    week = next(w for w in month["team"]["weekly"] if w["first_day"] <= day <= w["last_day"])
    _, shown = call(server, "GET", f"/progress?period=week&date={day}", token=boss)
    assert shown["team"]["against_target"]["recovered_fen"]["target"] == week["recovered_fen"]

    page.reload()
    expect(page.get_by_label("回款目标（元） · 团队")).to_have_value("100000.00")
    expect(page.get_by_label("外访目标（次） · 团队")).to_have_value("40")
