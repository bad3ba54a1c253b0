"""What the field recorded, read back by the people who act on it.

A collector with no signal files three visits on one day: one far from the debtor's door, one at
22:30 debtor-local time, one that ends in a signed promise. Back in coverage the phone syncs.
Her supervisor lists the team's visits of that day, filtered by flag, and sees exactly those
flags; legal staff find the case by its plate (typed as it is painted) and by the debtor's
national ID, open its timeline and see every record in order; a supervisor of another team
sees none of it."""

from __future__ import annotations

from sqlalchemy import select

from api.extensions import db
from api.models import Address, AuditEvent
from clients.device import DeviceClient, FlaskTransport
from tests.factories import PASSWORD, VALID_IDS
from tests.field.conftest import finish_jobs
from tests.field.test_field_work import HOME, promise, report
from tests.sync.test_client import Scripted, always

FAR = (22.5600, 114.0900)  # about 2.7 km from the door


def listed(client, headers, path, **query) -> dict:
    answer = client.get(path, query_string=query, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_day_in_the_field_read_back_by_the_supervisor_and_legal(app, client, world, tmp_path):
    team, other_team = world.team(), world.team()
    collector = world.user("collector", team)
    national_id = VALID_IDS[7]
    case = world.case(collector=collector, lat=HOME[0], lon=HOME[1], national_id=national_id)
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1")
    )
    case_id, home_id = case.id, home.id
    # The factory salts its digests so that test debtors never collide; this one is real.
    case.debtor.national_id_digest = world.cipher.digest(national_id)
    db.session.commit()

    # --- in the field, no signal -------------------------------------------------------------
    phone = DeviceClient(str(tmp_path / "phone.db"), FlaskTransport(client),
                         username=collector.username, password=PASSWORD)
    phone.transport = Scripted(phone.transport, [(always, "offline")])
    far = report(case_id, home_id, start="2026-11-20T09:00:00+08:00", fix=FAR,
                 outcome="debtor_absent", next_step="revisit")
    late = report(case_id, home_id, start="2026-11-20T22:30:00+08:00", minutes=15)
    agreed = report(case_id, home_id, start="2026-11-20T15:00:00+08:00",
                    outcome="promise_to_pay", promised_fen=500_000)
    signed = promise(case_id, visit_report_id=agreed["id"], signed_at="2026-11-20T15:20:00+08:00")
    for record in (far, late, agreed):
        phone.record("visit_report", record, client_time=record["ended_at"])
    phone.record("repayment_promise", signed, client_time=signed["signed_at"])
    assert phone.push().stopped == "network" and phone.outbox_size() == 4
    phone.transport = phone.transport.inner
    back = phone.push()
    assert back.stopped is None and back.applied == 4
    finish_jobs()  # the promise's PDF is made before the test writes again (SQLite: one writer)

    # --- the supervisor's review of the day --------------------------------------------------
    supervisor = world.login(world.user("supervisor", team))
    day = {"team_id": team.id, "date_from": "2026-11-20", "date_to": "2026-11-20"}
    visits = listed(client, supervisor, "/visits", **day)
    assert {v["id"] for v in visits["items"]} == {far["id"], late["id"], agreed["id"]}
    assert visits["page"]["total"] == 3
    flags = {v["id"]: set(v["flags"]) for v in visits["items"]}
    # One collector alone each time (the policy asks two); the rest is what happened at the door.
    assert flags == {
        far["id"]: {"too_few_collectors", "far_from_address"},
        late["id"]: {"too_few_collectors", "outside_visit_hours"},
        agreed["id"]: {"too_few_collectors"},
    }
    for flag, expected in (("far_from_address", far), ("outside_visit_hours", late)):
        only = listed(client, supervisor, "/visits", flag=flag, **day)["items"]
        assert [v["id"] for v in only] == [expected["id"]]
    distant = client.get(f"/visits/{far['id']}", headers=supervisor).get_json()
    assert distant["geofence"] == "outside" and distant["distance_m"] > 2000
    the_promise = listed(client, supervisor, "/promises", case_id=case_id)["items"]
    assert [(p["id"], p["status"], p["due_fen"]) for p in the_promise] == [
        (signed["id"], "pending", 500_000)]
    other_day = listed(client, supervisor, "/visits", team_id=team.id,
                       date_from="2026-11-21", date_to="2026-11-21")
    assert other_day["items"] == []

    # --- legal staff find the case and read its story ----------------------------------------
    legal = world.login(world.user("legal"))
    for q in ("京A·D9203 5", national_id):
        found = listed(client, legal, "/cases", q=q)["items"]
        assert [c["id"] for c in found] == [case_id], q
    timeline = listed(client, legal, f"/cases/{case_id}/timeline", order="asc")["items"]
    field_entries = [(e["kind"], e["record_id"]) for e in timeline
                     if e["kind"] in ("visit_report", "repayment_promise")]
    assert field_entries == [
        ("visit_report", far["id"]),
        ("visit_report", agreed["id"]),
        ("repayment_promise", signed["id"]),
        ("visit_report", late["id"]),
    ]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    audited = set(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.case_id == case_id)))
    assert {"case.timeline"} <= audited

    # --- another team's supervisor sees none of it -------------------------------------------
    stranger = world.login(world.user("supervisor", other_team))
    assert listed(client, stranger, "/visits", date_from="2026-11-20")["items"] == []
    assert listed(client, stranger, "/promises")["items"] == []
    assert listed(client, stranger, "/cases", q="京AD92035")["items"] == []
    for path in (f"/visits/{far['id']}", f"/promises/{signed['id']}",
                 f"/cases/{case_id}/timeline"):
        assert client.get(path, headers=stranger).status_code == 404, path

    # --- bad input names the field, never a 500 ----------------------------------------------
    for query, field in (({"flag": "drunk"}, "flag"), ({"colour": "red"}, "colour"),
                         ({"date_from": "2026-11-21", "date_to": "2026-11-20"}, "date_to")):
        answer = client.get("/visits", query_string=query, headers=supervisor)
        assert answer.status_code == 422, (query, answer.get_json())
        assert field in str(answer.get_json()["error"]["fields"]), (query, answer.get_json())
    assert client.get("/cases", query_string={"q": "x"}, headers=legal).status_code == 422
