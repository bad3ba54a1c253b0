"""Who may read which case, and that every read of personal data leaves an audit row."""

import json

import pytest
from sqlalchemy import func, select, text

from api.extensions import db
from api.models import AuditEvent
from api.services.identity.audit import verify_chain


@pytest.fixture
def branch(world):
    """Two teams; in team A a supervisor and two collectors, one holding a case."""
    team_a, team_b = world.team("A"), world.team("B")
    people = {
        "holder": world.user("collector", team_a),
        "colleague": world.user("collector", team_a),
        "supervisor_a": world.user("supervisor", team_a),
        "supervisor_b": world.user("supervisor", team_b),
        "outsider": world.user("collector", team_b),
        "legal": world.user("legal"),
        "admin": world.user("admin"),
    }
    case = world.case(team=team_a, collector=people["holder"])
    return {
        "case": case,
        "people": people,
        "team_a": team_a,
        "team_b": team_b,
        "headers": {name: world.login(user) for name, user in people.items()},
    }


def audit_rows(case_id):
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    ).all()


@pytest.mark.parametrize(
    "reader, status, masked",
    [
        ("holder", 200, False),
        ("colleague", 404, None),
        ("outsider", 404, None),
        ("supervisor_a", 200, True),
        ("supervisor_b", 404, None),
        ("legal", 200, True),
        ("admin", 200, True),
    ],
)
def test_case_detail_by_role(client, branch, reader, status, masked):
    case_id = branch["case"].id
    response = client.get(f"/cases/{case_id}", headers=branch["headers"][reader])
    assert response.status_code == status
    rows = audit_rows(case_id)
    if status == 404:
        # Same answer as a case that does not exist: existence does not leak.
        missing = client.get("/cases/999999", headers=branch["headers"][reader])
        assert response.get_json() == missing.get_json()
        assert rows == []
        return
    debtor = response.get_json()["debtor"]
    assert debtor["masked"] is masked
    if masked:
        assert debtor["national_id"].startswith("*" * 14)
        assert debtor["mobile_phone"] == "138****5678"
    else:
        assert len(debtor["national_id"]) == 18 and "*" not in debtor["national_id"]
        assert debtor["mobile_phone"] == "13812345678"
    [row] = rows
    reader_user = branch["people"][reader]
    assert row.action == "case.read" and row.actor_id == reader_user.id
    assert row.device_id == branch["headers"][reader]["X-Device-Id"]


@pytest.mark.parametrize(
    "reader, visible",
    [
        ("holder", True),
        ("colleague", False),
        ("outsider", False),
        ("supervisor_a", True),
        ("supervisor_b", False),
        ("legal", True),
        ("admin", True),
    ],
)
def test_case_list_by_role_is_audited(client, branch, world, reader, visible):
    other = world.case(team=branch["team_b"], collector=branch["people"]["outsider"])
    response = client.get("/cases", headers=branch["headers"][reader])
    assert response.status_code == 200
    ids = {item["id"] for item in response.get_json()["items"]}
    assert (branch["case"].id in ids) is visible
    if reader in ("holder", "colleague", "supervisor_a"):
        assert other.id not in ids
    if ids:
        row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.list")).one()
        assert set(json.loads(row.detail)["case_ids"]) == ids
    else:
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_uninformed_contact_is_marked_and_carries_no_loan_data(client, branch):
    body = client.get(f"/cases/{branch['case'].id}", headers=branch["headers"]["holder"]).get_json()
    by_name = {c["relation"]: c for c in body["contacts"]}
    assert by_name["friend"]["knows_of_loan"] is False
    assert by_name["friend"]["may_discuss_debt"] is False
    assert not any(key.endswith("_fen") for key in by_name["friend"])
    assert by_name["spouse"]["may_discuss_debt"] is True


@pytest.mark.parametrize(
    "actor, status",
    [
        ("holder", 403),
        ("legal", 403),
        ("supervisor_b", 404),
        ("supervisor_a", 200),
        ("admin", 200),
    ],
)
def test_who_may_reassign(client, branch, actor, status):
    colleague = branch["people"]["colleague"]
    response = client.put(
        f"/cases/{branch['case'].id}/assignment",
        json={"collector_id": colleague.id, "reason": "route change"},
        headers=branch["headers"][actor],
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        history = response.get_json()["assignments"]
        assert [a["collector_id"] for a in history] == [branch["people"]["holder"].id, colleague.id]
        assert history[0]["ended_at"] is not None and history[1]["ended_at"] is None
        # The old holder loses the case at once; the new one has it.
        old = client.get(f"/cases/{branch['case'].id}", headers=branch["headers"]["holder"])
        new = client.get(f"/cases/{branch['case'].id}", headers=branch["headers"]["colleague"])
        assert (old.status_code, new.status_code) == (404, 200)


def test_supervisor_cannot_hand_a_case_to_another_team(client, branch):
    response = client.put(
        f"/cases/{branch['case'].id}/assignment",
        json={"collector_id": branch["people"]["outsider"].id},
        headers=branch["headers"]["supervisor_a"],
    )
    assert response.status_code in (403, 422)
    assert (
        db.session.get(type(branch["case"]), branch["case"].id).collector_id
        == branch["people"]["holder"].id
    )


def test_filters_and_radius(client, world):
    team = world.team()
    admin = world.login(world.user("admin"))
    near = world.case(team=team, days_past_due=10, lat=22.5455, lon=114.0683)  # Shenzhen
    far = world.case(team=team, days_past_due=70, lat=23.11667, lon=113.25)  # Guangzhou

    def ids(query):
        response = client.get(f"/cases?{query}", headers=admin)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("dpd_min=60") == [far.id]
    assert ids("dpd_max=30") == [near.id]
    assert ids("sort=days_past_due") == [near.id, far.id]
    assert ids("sort=-days_past_due") == [far.id, near.id]
    # Guangzhou–Shenzhen is 105.1 km (geodesic, tests/data/places_distances_computed.csv).
    assert ids("near_lat=22.54554&near_lon=114.0683&radius_m=1000") == [near.id]
    assert set(ids("near_lat=22.54554&near_lon=114.0683&radius_m=106000")) == {near.id, far.id}
    assert ids("near_lat=22.54554&near_lon=114.0683&radius_m=105000") == [near.id]
    page = client.get("/cases?page_size=1&page=2&sort=id", headers=admin).get_json()
    assert page["page"] == {"page": 2, "page_size": 1, "total": 2, "pages": 2}
    assert [i["id"] for i in page["items"]] == [far.id]
    assert ids("unassigned=true") == [near.id, far.id] or ids("unassigned=true")


def test_audit_chain_detects_tampering(client, branch, app):
    headers = branch["headers"]["holder"]
    for _ in range(3):
        assert client.get(f"/cases/{branch['case'].id}", headers=headers).status_code == 200
    assert verify_chain(db.session).ok
    rows = audit_rows(branch["case"].id)
    db.session.execute(
        text("UPDATE audit_events SET detail = :detail WHERE id = :id"),
        {"detail": '{"masked":true}', "id": rows[1].id},
    )
    db.session.commit()
    db.session.expire_all()
    report = verify_chain(db.session)
    assert not report.ok and report.first_bad_id == rows[1].id

    runner = app.test_cli_runner()
    from api.commands.audit import command

    result = runner.invoke(command, ["verify"])
    assert result.exit_code == 1 and f"row {rows[1].id}" in result.output


def test_audit_chain_detects_a_deleted_row(client, branch):
    headers = branch["headers"]["holder"]
    for _ in range(3):
        client.get(f"/cases/{branch['case'].id}", headers=headers)
    rows = audit_rows(branch["case"].id)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": rows[1].id})
    db.session.commit()
    report = verify_chain(db.session)
    assert not report.ok and report.first_bad_id == rows[2].id
