"""Hostile input, as a probe sends it: one bad character, a huge number, a deep or huge body.
None of it may break the server, and none of it may block a phone's outbox."""

import json
import uuid

import pytest

from schemas.fieldwork import MAX_FIXES
from schemas.sync import MAX_BATCH
from tests.sync.test_protocol import attempt, push

HUGE = "9646549501855" + "0" * 40  # far beyond 64 bits
BAD_TEXT = {"a lone surrogate": "note \ud83d here", "a NUL": "note \x00 here"}


def note(mutation_id, case_id, text):
    return {
        "mutation_id": mutation_id,
        "type": "case_note",
        "client_time": "2026-11-20T10:00:00+08:00",
        "payload": {"id": str(uuid.uuid4()), "case_id": case_id, "text": text},
    }


def login_body(username="collector1", **extra):
    return {
        "username": username,
        "password": "correct horse battery",
        "device": {"id": str(uuid.uuid4()), "label": "phone", "platform": "android-14"},
        **extra,
    }


@pytest.fixture
def phone(world):
    collector = world.user("collector")
    case = world.case(collector=collector)
    return {"headers": world.login(collector), "case": case}


@pytest.mark.parametrize("text", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_one_bad_character_in_a_note_is_refused_and_the_queue_moves_on(client, phone, text):
    case_id = phone["case"].id
    response = push(client, phone["headers"], [note(1, case_id, text), attempt(2, case_id)])
    assert response.status_code == 200, response.get_data(as_text=True)
    first, second = response.get_json()["results"]
    assert first["status"] == "rejected"
    assert "payload.text" in first["fields"]
    assert second["status"] == "applied"
    again = push(client, phone["headers"], [note(1, case_id, text)]).get_json()["results"][0]
    assert again["status"] == "duplicate"  # the phone's retry is answered, not re-tried forever
    assert again["original"]["status"] == "rejected"


@pytest.mark.parametrize("text", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_one_bad_character_in_a_login_name_is_a_422_naming_it(client, text):
    response = client.post("/auth/login", json=login_body(text))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "username" in response.get_json()["error"]["fields"]


def test_a_nul_in_a_query_string_or_a_path_is_a_4xx_naming_it(client, world):
    headers = world.login(world.user("admin"))
    response = client.get("/audit", query_string={"action": "case.read\x00"}, headers=headers)
    assert response.status_code == 422
    assert "action" in response.get_json()["error"]["fields"]
    response = client.post("/admin/devices/ab%00cd/revoke", headers=headers)
    assert response.status_code in (404, 422), response.get_data(as_text=True)


@pytest.mark.parametrize("page", [HUGE, str(2**62)], ids=["beyond 64 bits", "2^62"])
@pytest.mark.parametrize("path", ["/proposals", "/admin/users", "/audit", "/cases"])
def test_a_huge_page_number_is_a_422_naming_it(client, world, path, page):
    headers = world.login(world.user("admin"))
    response = client.get(path, query_string={"page": page, "page_size": 200}, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "page" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("key", ["case_id", "actor_id"])
def test_a_huge_id_in_a_query_is_a_422_naming_it(client, world, key):
    headers = world.login(world.user("admin"))
    response = client.get("/audit", query_string={key: HUGE}, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert key in response.get_json()["error"]["fields"]


def test_a_huge_id_in_a_path_is_a_404(client, world):
    headers = world.login(world.user("admin"))
    digits = "1" * 40
    response = client.put(f"/cases/{digits}/assignment", json={"collector_id": 1},
                          headers=headers)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert client.get(f"/admin/users/{digits}", headers=headers).status_code == 404


def test_a_huge_id_in_a_body_is_a_422_naming_it(client, world):
    admin = world.login(world.user("admin"))
    case = world.case(team=world.team())
    response = client.put(f"/cases/{case.id}/assignment", json={"collector_id": int(HUGE)},
                          headers=admin)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "collector_id" in response.get_json()["error"]["fields"]


def test_json_nested_a_thousand_deep_is_a_400(client):
    deep = "[" * 1000 + "]" * 1000
    response = client.post("/auth/login", data='{"username": ' + deep + "}",
                           content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("digits", [4000, 5000])  # under and over Python's int-string limit
def test_an_integer_with_thousands_of_digits_is_a_4xx(client, phone, digits):
    number = "7" * digits
    for mutation_id, field in enumerate(("case_id", "duration_s", "contact_id"), start=1):
        mutation = attempt(mutation_id, phone["case"].id)
        mutation["payload"][field] = "NUMBER"
        body = json.dumps({"device_id": phone["headers"]["X-Device-Id"],
                           "mutations": [mutation]}).replace('"NUMBER"', number)
        response = client.post("/sync/push", data=body, content_type="application/json",
                               headers=phone["headers"])
        assert 400 <= response.status_code < 500 or (
            response.status_code == 200
            and response.get_json()["results"][0]["status"] == "rejected"
        ), response.get_data(as_text=True)
    response = client.post("/auth/login", data='{"username": "a", "password": ' + number + "}",
                           content_type="application/json")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)


def test_an_integer_too_large_for_a_float_is_a_422(client, phone):
    from tests.field.test_field_work import report

    visit = report(phone["case"].id, None)
    visit["fixes"][0]["lat"] = "NUMBER"
    mutation = {"mutation_id": 1, "type": "visit_report",
                "client_time": "2026-11-20T10:00:00+08:00", "payload": visit}
    body = json.dumps({"device_id": phone["headers"]["X-Device-Id"],
                       "mutations": [mutation]}).replace('"NUMBER"', "9" * 400)
    response = client.post("/sync/push", data=body, content_type="application/json",
                           headers=phone["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()["results"][0]
    assert result["status"] == "rejected"
    assert "payload.fixes.0.lat" in result["fields"]


def test_a_24_mib_login_body_is_refused_before_it_is_read(client):
    body = b'{"username": "' + b"a" * (24 * 1024 * 1024) + b'"}'
    response = client.post("/auth/login", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_an_ordinary_route_refuses_a_body_over_a_mebibyte(client, world):
    headers = world.login(world.user("admin"))
    body = {"code": "T1", "name": "x" * (2 * 1024 * 1024)}
    response = client.post("/admin/teams", json=body, headers=headers)
    assert response.status_code == 413


def test_a_push_of_more_than_the_maximum_mutations_is_refused_naming_them(client, phone):
    mutations = [attempt(i, phone["case"].id) for i in range(1, MAX_BATCH + 2)]
    response = push(client, phone["headers"], mutations)
    assert response.status_code in (413, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert "mutations" in response.get_json()["error"]["fields"]


def test_a_visit_with_more_than_the_maximum_fixes_is_rejected(client, phone):
    from tests.field.test_field_work import report

    visit = report(phone["case"].id, None)
    visit["fixes"] = visit["fixes"] * (MAX_FIXES + 1)
    mutation = {"mutation_id": 1, "type": "visit_report",
                "client_time": "2026-11-20T10:00:00+08:00", "payload": visit}
    result = push(client, phone["headers"], [mutation]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert "payload.fixes" in result["fields"]
