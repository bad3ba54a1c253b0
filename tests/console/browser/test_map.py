"""The route map of a day (GET /routes, GET /routes/{id}, GET /visits, GET /cases?with=location):
each chosen collector's numbered stops in the planned order joined by a line, the visits filed
that day with their flags, the unassigned cases; planning several collectors at once with
pinned and distributed stops (POST /routes), and re-planning a route without a dropped stop
(POST /routes/{id}/replan). All on a blank background: no tile server is configured and no
request leaves the server's origin."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


def open_map(console, username):
    console.open()
    console.sign_in(username)
    page = console.page
    page.get_by_role("link", name="路线地图").click()
    expect(page.get_by_role("heading", name="路线地图")).to_be_visible()
    return page


def only(page, names, everyone):
    for name in everyone:
        box = page.get_by_label(name, exact=True)
        box.check() if name in names else box.uncheck()


def test_a_planned_route_on_a_map_without_tiles(console, server):
    requests = []
    console.page.on("request", lambda request: requests.append(request.url))
    page = open_map(console, server.supervisor)
    expect(page.get_by_text("无底图（仅显示站点和路线）", exact=False)).to_be_visible()

    only(page, [server.route_collector], ["Alice Wang", "Bob Li"])
    page.get_by_label("日期").fill(server.route_day.isoformat())
    page.get_by_role("button", name="显示").click()

    stops = page.locator("ol.stops li")
    expect(stops).to_have_count(len(server.route_stops))
    for n, contract_no in enumerate(server.route_stops):
        expect(stops.nth(n)).to_contain_text(contract_no)
    expect(stops.first).to_contain_text("Asia/Shanghai")  # the team's time beside the viewer's
    markers = page.locator("#route-map .leaflet-marker-icon.stop")
    expect(markers).to_have_text([str(n + 1) for n in range(len(server.route_stops))])
    expect(page.locator("#route-map path.route-line")).to_have_count(1)
    expect(page.get_by_role("heading", name="批量分配")).to_have_count(0)  # the queue's is gone
    expect(page.locator("#route-map path.start")).to_have_count(1)
    expect(page.locator("#route-map path.unassigned-case")).to_have_count(5)  # SZ-1's five
    assert page.locator("#route-map .leaflet-tile").count() == 0
    console.shot("route-map")
    assert all(url.startswith(server.url) or url.startswith("data:") for url in requests), requests

    only(page, ["Bob Li"], ["Alice Wang", "Bob Li"])
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_text("Bob Li：该日没有路线。")).to_be_visible()
    expect(markers).to_have_count(0)


def test_plan_a_day_and_see_it_on_the_map(console, server):
    day = (server.route_day + timedelta(days=1)).isoformat()
    page = open_map(console, server.supervisor)
    only(page, [server.route_collector], ["Alice Wang", "Bob Li"])
    page.get_by_label("日期").fill(day)
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_text("Alice Wang：该日没有路线。")).to_be_visible()
    plan_rows = page.locator("table.plan-cases tbody tr")
    expect(plan_rows).to_have_count(3 + 5)  # Alice's three, ticked; the five unassigned, not

    page.get_by_role("button", name="规划所选外访员的路线").click()
    expect(page.locator("#map-outcome")).to_have_text("已规划 1 条路线。")
    stops = page.locator("ol.stops li")
    expect(stops).to_have_count(3)  # the three open cases Alice holds
    expect(page.locator("#route-map .leaflet-marker-icon.stop")).to_have_count(3)
    planned = stops.all_inner_texts()
    console.shot("planned-day")

    page.reload()  # the plan is stored and published: shown again from GET /routes
    only(page, [server.route_collector], ["Alice Wang", "Bob Li"])
    page.get_by_label("日期").fill(day)
    page.get_by_role("button", name="显示").click()
    expect(stops).to_have_count(3)
    assert stops.all_inner_texts() == planned
    expect(page.locator("#route-map path.unassigned-case")).to_have_count(5)  # nobody moved


def test_the_visits_of_a_day_with_their_flags(console, server):
    team = server.day_team
    page = open_map(console, team["supervisor"])
    page.get_by_label("日期").fill(team["visit"]["day"])
    page.get_by_role("button", name="显示").click()
    visits = page.locator("ul.visits li")
    expect(visits).to_have_count(1)
    visit = visits.first
    expect(visit).to_contain_text(team["visit"]["contract_no"])
    expect(visit).to_contain_text("Carol Zhao")
    expect(visit).to_contain_text("超出地理围栏")  # far_from_address, worded
    expect(visit).to_contain_text("Asia/Shanghai")
    expect(visit).to_have_class("flagged")
    expect(page.locator("#route-map path.visit.flagged")).to_have_count(1)
    expect(page.locator("#route-map path.unassigned-case")).to_have_count(3)
    expect(page.locator("p.no-route")).to_have_count(2)
    console.shot("visits-with-flags")

    page.get_by_role("button", name="切换语言").click()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("ul.visits li").first).to_contain_text("outside the geofence")


def test_plan_several_collectors_with_pinned_and_shared_stops_then_replan(console, server):
    team = server.day_team
    cases = team["cases"]
    carol = team["collectors"]["Carol Zhao"]
    pinned, added, left_out = cases[0], cases[5], cases[4]  # Carol's, unassigned, Dan's
    day = server.route_day.isoformat()
    page = open_map(console, team["supervisor"])
    page.get_by_label("日期").fill(day)
    page.get_by_role("button", name="显示").click()
    expect(page.locator("p.no-route")).to_have_count(2)
    expect(page.locator("#route-map path.unassigned-case")).to_have_count(3)
    expect(page.locator("table.plan-cases tbody tr")).to_have_count(8)
    expect(page.get_by_label(f"固定 {added['contract_no']}")).to_be_disabled()  # no holder

    page.get_by_label(f"固定 {pinned['contract_no']}").check()
    page.get_by_label(f"排入 {added['contract_no']}").check()
    page.get_by_label(f"排入 {left_out['contract_no']}").uncheck()
    page.get_by_label("允许在所选外访员之间分配").check()
    console.shot("plan-form")
    page.get_by_role("button", name="规划所选外访员的路线").click()
    expect(page.locator("#map-outcome")).to_have_text("已规划 2 条路线。")
    expect(page.locator("section.collector-day")).to_have_count(2)
    expect(page.locator("#route-map path.route-line")).to_have_count(2)
    expect(page.locator("#route-map .leaflet-marker-icon.stop")).to_have_count(5)
    expect(page.locator("#route-map .leaflet-marker-icon.stop.pinned")).to_have_count(1)
    carols = page.locator(f'section.collector-day[data-collector-id="{carol}"]')
    expect(carols.locator(f'li.pinned[data-case-id="{pinned["id"]}"]')).to_have_count(1)
    expect(page.locator("#route-map path.unassigned-case")).to_have_count(2)  # the added one moved
    expect(page.locator(f'table.plan-cases tr[data-case-id="{added["id"]}"] td.holder')) \
        .not_to_have_text("—")
    console.shot("planned-team")

    boss = token(server, team["supervisor"])
    _, page_of = call(server, "GET", f"/routes?day={day}&status=published", token=boss)
    plans = [call(server, "GET", f"/routes/{p['id']}", token=boss)[1] for p in page_of["items"]]
    stops = {s["case_id"]: (p, s) for p in plans for s in p["stops"]}
    assert set(stops) == {c["id"] for c in cases[:6]} - {left_out["id"]}
    assert stops[pinned["id"]][0]["collector_id"] == carol and stops[pinned["id"]][1]["pinned"]
    taker = stops[added["id"]][0]["collector_id"]
    assert call(server, "GET", f"/cases/{added['id']}", token=boss)[1]["collector_id"] == taker

    # Re-plan the longer route without one of its unpinned stops.
    longer = max(plans, key=lambda p: len(p["stops"]))
    dropped = next(s for s in longer["stops"] if not s["pinned"])
    section = page.locator(f'section.collector-day[data-collector-id="{longer["collector_id"]}"]')
    section.get_by_label(f"取消 {dropped['contract_no']}").check()
    section.get_by_role("button", name=f"重新规划 {longer['collector_name']}").click()
    expect(page.locator("#map-outcome")).to_have_text("已重新规划（第 2 版）。")
    expect(section.locator("ol.stops li")).to_have_count(len(longer["stops"]) - 1)
    expect(section.locator(f'ul.cancelled-list li[data-case-id="{dropped["case_id"]}"]')) \
        .to_have_count(1)
    expect(page.locator("#route-map .leaflet-marker-icon.stop")).to_have_count(4)
    expect(page.locator("#route-map .leaflet-marker-icon.stop.pinned")).to_have_count(1)
    console.shot("replanned")
    _, again = call(server, "GET", f"/routes?day={day}&status=published"
                    f"&collector_id={longer['collector_id']}", token=boss)
    assert [p["version"] for p in again["items"]] == [2]
