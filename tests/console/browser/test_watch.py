"""The page watch itself: it does catch what would fail a console test."""

from __future__ import annotations

from tests.console.browser.conftest import Console


def test_the_watch_catches_errors_failures_and_private_paths(browser, server):
    watched = Console(browser, server, "watch")
    try:
        watched.open()
        page = watched.page
        page.get_by_role("heading", name="登录").wait_for()
        assert watched.problems == []
        page.evaluate("console.error('boom')")
        page.evaluate("setTimeout(() => { throw new Error('uncaught') })")
        page.evaluate("fetch('/cases/999999').catch(() => null)")  # 401: no token
        page.evaluate("fetch('/metrics').catch(() => null)")  # served, but not the public API
        page.evaluate("fetch('http://127.0.0.1:9/').catch(() => null)")  # another origin: CSP
        page.wait_for_timeout(500)
        text = "\n".join(watched.problems)
        assert "console error: boom" in text
        assert "page error: uncaught" in text
        assert "401 from GET" in text and "/cases/999999" in text
        assert "not the public API: GET /metrics" in text
        assert "violates the document's Content Security Policy" in text
    finally:
        watched.close()


def test_a_declared_status_is_not_a_problem(browser, server):
    watched = Console(browser, server, "watch-expected")
    try:
        watched.expect(401, "/cases/")
        watched.open()
        watched.page.get_by_role("heading", name="登录").wait_for()
        watched.page.evaluate("fetch('/cases/999999').then((r) => r.status)")
        watched.page.wait_for_timeout(300)
        assert watched.problems == []
    finally:
        watched.close()
