"""Sign-in: a supervisor reaches the case queue; a collector is refused the console with a
clear message and keeps no session; a wrong password is named."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_a_supervisor_signs_in_to_the_queue(console, server):
    console.open()
    expect(console.page.get_by_role("heading", name="登录")).to_be_visible()
    console.shot("sign-in")
    console.sign_in(server.supervisor)
    expect(console.page).to_have_url(re.compile(r"#/queue$"))
    expect(console.page.get_by_role("heading", name="案件队列")).to_be_visible()


def test_a_collector_is_refused_the_console(console, server):
    console.open()
    console.sign_in(server.collector)
    message = console.page.get_by_role("alert")
    expect(message).to_have_text(re.compile("外访员请使用手机应用"))
    console.shot("collector-refused")
    assert console.page.evaluate("sessionStorage.getItem('fv.session')") is None
    console.open("#/queue")  # no way round the sign-in
    expect(console.page.get_by_role("heading", name="登录")).to_be_visible()


def test_a_wrong_password_is_named(console, server):
    console.expect(401, "/auth/login")
    console.open()
    console.sign_in(server.supervisor, password="not the password")
    expect(console.page.get_by_role("alert")).to_contain_text(re.compile("password|密码", re.I))


def test_an_administrator_signs_in_to_the_queue_of_every_team(console, server):
    console.open()
    console.sign_in(server.admin)
    page = console.page
    expect(page.get_by_role("heading", name="案件队列")).to_be_visible()
    expect(page.locator("table.cases tbody tr").first).to_be_visible()
    expect(page.get_by_label("分配给")).to_contain_text("Bob Li")  # GET /admin/users?role=collector
