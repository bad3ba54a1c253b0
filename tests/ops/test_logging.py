"""Request logs: JSON lines carrying a request id (echoed to the client), the caller's user and
device ids, the route rule, status and duration; full tracebacks for 500s; no personal data."""

import base64
import dataclasses
import io
import json
import secrets
import uuid
from urllib.parse import quote

import pytest

from api import create_app
from api.observability import configure_logging
from tests.factories import PASSWORD

NATIONAL_ID = "11010519491231002X"
PHONE = "13812345678"


@pytest.fixture
def log_lines():
    """The lines the app's own JSON handler writes, parsed."""
    handler = configure_logging()
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous)


def request_lines(lines, route):
    return [line for line in lines if line.get("logger") == "fieldvisit.request"
            and line.get("route") == route]


def test_a_request_is_one_json_line_with_its_id_echoed(client, world, log_lines):
    collector = world.user("collector")
    headers = world.login(collector)
    case = world.case(collector=collector)
    response = client.get(f"/cases/{case.id}", headers={**headers, "X-Request-Id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "abc-123"
    [line] = request_lines(log_lines(), "/cases/<int:case_id>")
    assert line["request_id"] == "abc-123"
    assert line["level"] == "INFO"
    assert (line["method"], line["status"]) == ("GET", 200)
    assert line["path_args"] == {"case_id": case.id}
    assert line["user_id"] == collector.id
    assert line["device_id"] == headers["X-Device-Id"]
    assert isinstance(line["duration_ms"], float)


@pytest.mark.parametrize("offered", [None, "", "has spaces", "x" * 200, "ü-nicode"])
def test_a_missing_or_odd_request_id_is_replaced(client, log_lines, offered):
    headers = {"X-Request-Id": offered} if offered is not None else {}
    response = client.get("/no/such/route", headers=headers)
    assert response.status_code == 404
    given = response.headers["X-Request-Id"]
    assert given != offered and uuid.UUID(given)
    [line] = request_lines(log_lines(), "<unmatched>")
    assert line["request_id"] == given
    assert line["status"] == 404


def test_a_500_logs_the_full_traceback(app_config, log_lines):
    """As in production (not testing, not debug: real keys)."""
    production = dataclasses.replace(
        app_config, testing=False, secret_key=secrets.token_urlsafe(48),
        pii_key="1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        audit_key="1:" + base64.b64encode(secrets.token_bytes(32)).decode())
    app = create_app(production)

    def explode():
        return failing_helper()

    app.add_url_rule("/test-only/explode", "explode", explode)
    response = app.test_client().get("/test-only/explode", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    [error] = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["request_id"] == "boom-1"
    assert "Traceback (most recent call last)" in error["exc_info"]
    assert "failing_helper" in error["exc_info"]
    assert "ZeroDivisionError: division by zero" in error["exc_info"]
    [line] = request_lines(log_lines(), "/test-only/explode")
    assert line["status"] == 500


def failing_helper():
    return 1 / 0


def test_a_wrong_password_logs_no_username(client, world, log_lines, caplog):
    user = world.user("collector", username="li.jianguo")
    response = client.post("/auth/login", json={
        "username": user.username, "password": PASSWORD + "-wrong",
        "device": {"id": str(uuid.uuid4()), "label": "phone", "platform": "android-14"},
    })
    assert response.status_code == 401
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in log_lines())
    assert request_lines(log_lines(), "/auth/login")
    for secret in ("li.jianguo", PASSWORD):
        assert secret not in text
        assert secret not in caplog.text


def test_a_search_by_national_id_or_phone_logs_neither(client, world, log_lines, caplog):
    admin = world.user("admin")
    headers = world.login(admin)
    case = world.case(national_id=NATIONAL_ID)
    case.debtor.mobile_phone = PHONE
    for q in (NATIONAL_ID, PHONE, "+86 138 1234 5678"):
        assert client.get(f"/cases?q={quote(q)}", headers=headers).status_code == 200
    lines = log_lines()
    assert len(request_lines(lines, "/cases")) == 3
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for value in (NATIONAL_ID, PHONE, "138 1234", quote("+86 138")):
        assert value not in text
        assert value not in caplog.text
