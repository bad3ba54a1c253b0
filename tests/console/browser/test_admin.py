"""Administrators: import runs with their counts and row errors (GET /imports, GET /imports/{id}),
the teams and users (GET /admin/teams, GET /admin/users) and a collector's devices, one revoked
from the console (POST /admin/devices/{id}/revoke) whose tokens then stop working."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.console.browser.conftest import call
from tests.factories import PASSWORD


def test_an_administrator_reads_an_import_run_and_its_row_errors(console, server):
    run = server.import_run
    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="导入").click()
    row = page.locator(f'table.import-list tr[data-run-id="{run["id"]}"]')
    expect(row).to_contain_text("payments")
    expect(row.locator("td.state")).to_contain_text("已完成")
    expect(row.locator("td.error")).to_have_text(str(len(run["errors"])))
    console.shot("imports")

    row.get_by_role("link", name=f"#{run['id']}").click()
    expect(page).to_have_url(re.compile(rf"#/import/{run['id']}$"))
    errors = page.locator("table.row-errors tbody tr")
    expect(errors).to_have_count(len(run["errors"]))
    for n, (line, field, contract_no) in enumerate(run["errors"]):
        expect(errors.nth(n)).to_contain_text(str(line))
        expect(errors.nth(n)).to_contain_text(field)
        expect(errors.nth(n)).to_contain_text(contract_no)
    console.shot("import-run")


def test_an_administrator_revokes_a_collectors_phone_and_its_tokens_stop_working(console, server):
    phone = str(uuid.uuid4())
    status, pair = call(server, "POST", "/auth/login", {
        "username": server.collector, "password": PASSWORD,
        "device": {"id": phone, "label": "spare phone", "platform": "android-14"}})
    assert status == 200, pair
    assert call(server, "GET", "/auth/me", token=pair["access_token"])[0] == 200

    console.open()
    console.sign_in(server.admin)
    page = console.page
    page.get_by_role("link", name="用户").click()
    page.get_by_label("角色").select_option("collector")
    page.get_by_role("button", name="筛选").click()
    users = page.locator("table.user-list tbody tr")
    expect(users).to_have_count(len(server.collectors))
    expect(users.filter(has_text="管理员")).to_have_count(0)
    expect(page.locator("table.team-list")).to_contain_text("SZ-1")
    expect(users.filter(has_text=server.collector).locator("td.team")).to_contain_text("SZ-1 · ")
    page.get_by_role("button", name=f"设备: {server.collector}").click()
    device = page.locator(f'table.device-list tr[data-device-id="{phone}"]')
    expect(device).to_contain_text("spare phone")
    expect(device.locator("td.state")).to_have_text("有效")
    console.shot("devices")

    device.get_by_role("button", name="吊销 spare phone").click()
    expect(device.locator("td.state")).to_contain_text("已吊销")
    expect(device.get_by_role("button")).to_have_count(0)
    console.shot("device-revoked")
    assert call(server, "GET", "/auth/me", token=pair["access_token"])[0] == 401
    assert call(server, "POST", "/auth/refresh", {"refresh_token": pair["refresh_token"]})[0] == 401
