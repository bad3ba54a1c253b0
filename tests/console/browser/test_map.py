"""A collector's planned day on the map (GET /routes, GET /routes/{id}): numbered stops in the
planned order joined by a line, on a blank background when no tile server is configured (no
request leaves the server's origin)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect


def test_a_planned_route_on_a_map_without_tiles(console, server):
    requests = []
    console.page.on("request", lambda request: requests.append(request.url))
    console.open()
    console.sign_in(server.supervisor)
    page = console.page
    page.get_by_role("link", name="路线地图").click()
    expect(page.get_by_role("heading", name="路线地图")).to_be_visible()
    expect(page.get_by_text("无底图（仅显示站点和路线）", exact=False)).to_be_visible()

    page.get_by_label("外访员").select_option(label=server.route_collector)
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
    assert page.locator("#route-map .leaflet-tile").count() == 0
    console.shot("route-map")
    assert all(url.startswith(server.url) or url.startswith("data:") for url in requests), requests

    page.get_by_label("外访员").select_option(label="Bob Li")
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_text("该日没有此外访员的路线。")).to_be_visible()
    expect(markers).to_have_count(0)


def test_plan_a_day_and_see_it_on_the_map(console, server):
    day = (server.route_day + timedelta(days=1)).isoformat()
    console.open()
    console.sign_in(server.supervisor)
    page = console.page
    page.get_by_role("link", name="路线地图").click()
    page.get_by_label("外访员").select_option(label=server.route_collector)
    page.get_by_label("日期").fill(day)
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_text("该日没有此外访员的路线。")).to_be_visible()

    page.get_by_role("button", name="规划当日路线").click()
    stops = page.locator("ol.stops li")
    expect(stops).to_have_count(3)  # the three open cases Alice holds
    expect(page.locator("#route-map .leaflet-marker-icon.stop")).to_have_count(3)
    planned = stops.all_inner_texts()
    console.shot("planned-day")

    page.reload()  # the plan is stored and published: shown again from GET /routes
    page.get_by_label("外访员").select_option(label=server.route_collector)
    page.get_by_label("日期").fill(day)
    page.get_by_role("button", name="显示").click()
    expect(stops).to_have_count(3)
    assert stops.all_inner_texts() == planned
