"""Bad input: a 4xx in the one error shape, naming the field, and nothing saved."""

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import Team, User


def error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()["error"]
    assert body["status"] == status and body["code"] and body["message"]
    return body


@pytest.fixture
def admin(world):
    return world.login(world.user("admin"))


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_malformed_json(client, admin):
    response = client.post(
        "/admin/teams", data="{not json", headers=admin, content_type="application/json"
    )
    error(response, 400)
    assert count(Team) == 0


def test_unknown_and_wrongly_typed_fields_are_named(client, admin):
    body = error(
        client.post("/admin/teams", json={"code": "X1", "name": 5, "colour": "red"}, headers=admin),
        422,
    )
    assert set(body["fields"]) == {"name", "colour"}
    assert count(Team) == 0


def test_nested_field_errors_use_dotted_paths(client):
    body = error(
        client.post(
            "/auth/login", json={"username": "a", "password": "b", "device": {"id": "not-a-uuid"}}
        ),
        422,
    )
    assert set(body["fields"]) == {"device.id"}


def test_out_of_range_and_unknown_enum(client, admin, world):
    team = world.team()
    body = error(
        client.post(
            "/admin/users",
            json={
                "username": "x",
                "full_name": "",
                "role": "boss",
                "team_id": team.id,
                "password": "short",
            },
            headers=admin,
        ),
        422,
    )
    assert set(body["fields"]) == {"username", "full_name", "role", "password"}
    users = count(User)
    body = error(
        client.post(
            "/admin/users",
            json={
                "username": "okname",
                "full_name": "Ok",
                "role": "collector",
                "team_id": 99999,
                "password": "long enough",
            },
            headers=admin,
        ),
        422,
    )
    assert set(body["fields"]) == {"team_id"}
    assert count(User) == users


def test_query_arguments_are_validated(client, admin):
    assert set(error(client.get("/cases?bucket=M2&bucket=M9", headers=admin), 422)["fields"]) == {
        "bucket.1"
    }
    assert set(error(client.get("/cases?near_lat=22.5", headers=admin), 422)["fields"]) == {
        "near_lon",
        "radius_m",
    }
    assert (
        "dpd_min" in error(client.get("/cases?dpd_min=50&dpd_max=10", headers=admin), 422)["fields"]
    )
    assert "page_size" in error(client.get("/cases?page_size=100000", headers=admin), 422)["fields"]
    assert (
        "near_lat"
        in error(client.get("/cases?near_lat=91&near_lon=0&radius_m=5", headers=admin), 422)[
            "fields"
        ]
    )


def test_wrong_content_type(client, admin):
    error(
        client.post(
            "/admin/teams",
            data="code=X",
            headers=admin,
            content_type="application/x-www-form-urlencoded",
        ),
        415,
    )
    assert count(Team) == 0


def test_oversized_body(client, admin, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    error(
        client.post("/admin/teams", data=big, headers=admin, content_type="application/json"), 413
    )


def test_unique_clash_is_409(client, admin):
    assert (
        client.post(
            "/admin/teams", json={"code": "SZ", "name": "Shenzhen"}, headers=admin
        ).status_code
        == 201
    )
    body = error(
        client.post("/admin/teams", json={"code": "SZ", "name": "Again"}, headers=admin), 409
    )
    assert "code" in body["fields"]
    assert count(Team) == 1


def test_unknown_route_and_method(client, admin):
    error(client.get("/nowhere", headers=admin), 404)
    error(client.delete("/cases", headers=admin), 405)
