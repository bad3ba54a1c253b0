"""Sign-in: a supervisor reaches the case queue; a collector is refused the console with a
clear message and keeps no session; a wrong password is named; signing out ends the session on
the server (POST /auth/logout): neither of its tokens works afterwards, another device's does."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.console.browser.conftest import call, token


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


def test_signing_out_ends_the_session_on_the_server(console, server):
    phone = token(server, server.supervisor)  # the same supervisor on another device
    console.open()
    console.sign_in(server.supervisor)
    page = console.page
    expect(page.get_by_role("heading", name="案件队列")).to_be_visible()
    session = json.loads(page.evaluate("sessionStorage.getItem('fv.session')"))
    assert call(server, "GET", "/auth/me", token=session["access"])[0] == 200

    with page.expect_response(lambda r: r.url.endswith("/auth/logout")) as answer:
        page.get_by_role("button", name="退出").click()
    assert answer.value.status == 204
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.locator("#signin-message")).to_have_text("")  # signed out, not "session ended"
    console.shot("signed-out")
    assert page.evaluate("sessionStorage.getItem('fv.session')") is None
    status, body = call(server, "GET", "/auth/me", token=session["access"])
    assert status == 401 and body["error"]["code"] == "token_revoked", body
    status, body = call(server, "POST", "/auth/refresh", {"refresh_token": session["refresh"]})
    assert status == 401, body
    assert call(server, "GET", "/auth/me", token=phone)[0] == 200

    console.sign_in(server.supervisor)  # the same browser signs in again
    expect(page.get_by_role("heading", name="案件队列")).to_be_visible()
