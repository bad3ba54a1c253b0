"""The two-collector rule, verifiable offline: each collector at the door records their own
presence on their own phone, the phones sync whenever they find signal, and the server pairs
the presences with the visit report, in whichever order they arrive."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from geopy.distance import geodesic
from sqlalchemy import select, text

from api.extensions import db
from api.models import Address, VisitPresence, VisitReport
from api.services.compliance.presets import PRESETS
from api.services.fieldwork.filing import (
    FilingEnvironment,
    apply_record,
    case_for_filer,
    field_context,
)
from api.services.geo import geodesic_m
from api.services.identity.accounts import Principal
from clients.device import DeviceClient, FlaskTransport
from mobile_sync.registry import MUTATIONS
from tests.factories import PASSWORD
from tests.field.test_field_work import HOME, Phone, cosign, report, zone_where_it_is_13h
from tests.sync.test_concurrency import writer_session

TWO = pytest.mark.rule("two_collectors", preset="CN")
CN = PRESETS["CN"]  # co-presence: within 100 m and 900 s of the visit


@pytest.fixture
def door(world, client, tmp_path):
    """Alice holds a case; Bob and Carol are collectors of her team; Dan is of another team.
    `phone(user)` is a real offline phone of theirs (its own store, its own device)."""
    team = world.team()
    alice, bob, carol = (world.user("collector", team) for _ in range(3))
    dan = world.user("collector")
    supervisor = world.user("supervisor", team)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    case.debtor.timezone = zone_where_it_is_13h(datetime.now(UTC))  # the visit is in hours
    db.session.commit()
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1"))

    def phone(user) -> DeviceClient:
        device = DeviceClient(str(tmp_path / f"{user.username}.db"), FlaskTransport(client),
                              username=user.username, password=PASSWORD, label=user.username)
        assert device.sync().ok  # signed in and bootstrapped while there was signal
        return device

    return dataclasses.make_dataclass("Door", ["case", "home", "alice", "bob", "carol", "dan",
                                               "supervisor", "phone", "world", "client"])(
        case, home, alice, bob, carol, dan, supervisor, phone, world, client)


START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)  # recent: the feed sees it


def at(seconds: float) -> str:
    """`seconds` after the visit started (negative: before)."""
    return (START + timedelta(seconds=seconds)).isoformat()


def visit(door, *co, minutes: int = 20, **extra) -> dict:
    """Alice's report of a 20-minute visit, naming `co` as co-collectors (no attestation)."""
    named = [{"user_id": u.id, "attestation": "offline"} for u in co]
    return report(door.case.id, door.home.id, start=START.isoformat(), minutes=minutes,
                  co=named, **extra)


def away(metres: float, bearing: float = 45) -> tuple[float, float]:
    point = geodesic(meters=metres).destination(HOME, bearing)
    return point.latitude, point.longitude


def presence(door, *, seconds: float = 60, metres: float = 0, bearing: float = 45,
             **extra) -> dict:
    """A presence at the door `seconds` after the visit started, `metres` from Alice's fix."""
    lat, lon = away(metres, bearing) if metres else HOME
    return {"case_id": door.case.id, "recorded_at": at(seconds), "lat": lat, "lon": lon,
            "accuracy_m": 8.0, **extra}


def sync(device: DeviceClient) -> None:
    result = device.sync()
    assert result.ok, result


def answer(device: DeviceClient, record_id: str) -> tuple[str, dict]:
    (sent,) = [r for r in device.records() if r.record_id == record_id]
    return sent.status, sent.result


def stored(report_id: str) -> VisitReport:
    db.session.expire_all()
    return db.session.get(VisitReport, report_id)


def flags(report_id: str) -> list[str]:
    return json.loads(stored(report_id).flags)


def verified(report_id: str) -> list[int]:
    return json.loads(stored(report_id).collector_ids)


# --- the story ------------------------------------------------------------------------------


@TWO
@pytest.mark.parametrize("first", ["lead", "co-collector"])
def test_two_phones_at_the_door_without_signal_sync_an_hour_apart_and_the_visit_ends_verified(
    door, first
):
    lead, co = door.phone(door.alice), door.phone(door.bob)
    # In the basement: both phones record, neither can send.
    _, own_id = lead.record("visit_presence", presence(door, seconds=30))
    _, report_id = lead.record("visit_report", visit(door, door.bob))
    _, co_id = co.record("visit_presence", presence(door, seconds=45, metres=12))
    assert lead.outbox_size() == 2 and co.outbox_size() == 1

    phones = [lead, co] if first == "lead" else [co, lead]
    sync(phones[0])  # an hour later the first finds signal; the other later still
    if first == "lead":
        assert answer(lead, report_id)[1]["flags"] == ["unverified_co_collector",
                                                       "too_few_collectors"]
        assert flags(report_id) == ["unverified_co_collector", "too_few_collectors"]
    else:
        assert answer(co, co_id) == ("applied", {"record_id": co_id, "flags": []})
        assert db.session.get(VisitPresence, co_id).visit_report_id is None  # nothing yet
    sync(phones[1])

    assert flags(report_id) == []
    assert verified(report_id) == [door.alice.id, door.bob.id]
    named = json.loads(stored(report_id).co_collectors)
    assert named == [{"user_id": door.bob.id, "verified": True, "cosigned": False,
                      "presence_id": co_id}]
    db.session.expire_all()
    assert db.session.get(VisitPresence, co_id).visit_report_id == report_id
    assert db.session.get(VisitPresence, own_id).visit_report_id == report_id
    assert db.session.get(VisitPresence, co_id).author_id == door.bob.id

    # The lead's phone sees the verdict in the case document; the office in GET /visits.
    sync(lead)
    (seen,) = [v for v in lead.case(door.case.id)["visits"] if v["id"] == report_id]
    assert seen["flags"] == []
    office = door.world.login(door.supervisor)
    read = door.client.get(f"/visits/{report_id}", headers=office)
    assert read.status_code == 200
    assert read.get_json()["flags"] == []
    assert read.get_json()["collector_ids"] == [door.alice.id, door.bob.id]
    assert read.get_json()["co_collectors"][0]["presence_id"] == co_id
    assert [(p["id"], p["collector_id"]) for p in read.get_json()["presences"]] == [
        (own_id, door.alice.id), (co_id, door.bob.id)]


@TWO
def test_a_third_presence_two_km_away_and_one_outside_the_time_gap_do_not_count(door):
    lead = Phone(door.client, door.world.login(door.alice))
    bob = Phone(door.client, door.world.login(door.bob))
    carol = Phone(door.client, door.world.login(door.carol))
    filed = lead.send("visit_report", visit(door, door.bob, door.carol))
    far = carol.send("visit_presence", {"id": str(uuid.uuid4()),
                                        **presence(door, metres=2000, bearing=90)})
    late = bob.send("visit_presence", {"id": str(uuid.uuid4()),
                                       **presence(door, seconds=20 * 60 + CN.co_presence_max_gap_s
                                                  + 1)})
    assert far["status"] == late["status"] == "applied"  # kept, never refused
    assert verified(filed["record_id"]) == [door.alice.id]
    assert flags(filed["record_id"]) == ["unverified_co_collector", "too_few_collectors"]
    for kept in (far, late):
        assert db.session.get(VisitPresence, kept["record_id"]).visit_report_id is None

    bob.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door, seconds=600)})
    assert verified(filed["record_id"]) == [door.alice.id, door.bob.id]
    assert flags(filed["record_id"]) == ["unverified_co_collector"]  # Carol is still 2 km off


@TWO
def test_the_lone_visit_feed_item_resolves_itself_when_the_second_presence_arrives(door):
    office = door.world.login(door.supervisor)
    lead = Phone(door.client, door.world.login(door.alice))
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    assert door.client.post("/exceptions/scan", headers=office).status_code == 200

    def item() -> dict:
        items = door.client.get("/exceptions", headers=office,
                                query_string={"kind": "too_few_collectors"}).get_json()["items"]
        (found,) = [i for i in items if i["subject_id"] == filed]
        return found

    assert item()["state"] == "open"
    Phone(door.client, door.world.login(door.bob)).send(
        "visit_presence", {"id": str(uuid.uuid4()), **presence(door)})
    scanned = door.client.post("/exceptions/scan", headers=office).get_json()
    assert scanned["kinds"]["too_few_collectors"] == {"opened": 0, "resolved": 1}
    assert item()["state"] == "resolved"


# --- boundaries -----------------------------------------------------------------------------


def lead_and_bob(door):
    return (Phone(door.client, door.world.login(door.alice)),
            Phone(door.client, door.world.login(door.bob)))


@TWO
@pytest.mark.parametrize(("metres", "counts"), [(99.9, True), (100.1, False)])
def test_the_distance_setting_at_its_boundary(door, metres, counts):
    lead, bob = lead_and_bob(door)
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    bob.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door, metres=metres)})
    assert (door.bob.id in verified(filed)) is counts
    assert ("too_few_collectors" in flags(filed)) is not counts


@TWO
def test_a_presence_exactly_at_the_distance_counts(door, use_policy):
    exactly = geodesic_m(*HOME, *away(250.0))
    use_policy(dataclasses.replace(CN, co_presence_max_distance_m=exactly))
    lead, bob = lead_and_bob(door)
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    bob.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door, metres=250.0)})
    assert verified(filed) == [door.alice.id, door.bob.id]


@TWO
@pytest.mark.parametrize(("seconds", "counts"), [
    (-CN.co_presence_max_gap_s - 1, False),  # too early
    (-CN.co_presence_max_gap_s, True),  # exactly the gap before the start
    (20 * 60 + CN.co_presence_max_gap_s, True),  # exactly the gap after the end
    (20 * 60 + CN.co_presence_max_gap_s + 1, False),  # too late
])
def test_the_time_gap_setting_at_its_boundary(door, seconds, counts):
    lead, bob = lead_and_bob(door)
    bob.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door, seconds=seconds)})
    filed = lead.send("visit_report", visit(door, door.bob))  # the presence came first
    assert (filed["flags"] == []) is counts
    assert (door.bob.id in verified(filed["record_id"])) is counts


@TWO
def test_the_settings_are_the_cases_policy(door, use_policy):
    use_policy(dataclasses.replace(CN, co_presence_max_distance_m=2500.0,
                                   co_presence_max_gap_s=60))
    lead, bob = lead_and_bob(door)
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    bob.send("visit_presence", {"id": str(uuid.uuid4()),
                                **presence(door, seconds=20 * 60 + 61)})  # past 60 s: no
    assert door.bob.id not in verified(filed)
    bob.send("visit_presence", {"id": str(uuid.uuid4()),
                                **presence(door, metres=2000, bearing=180)})  # 2 km: yes
    assert verified(filed) == [door.alice.id, door.bob.id]


@pytest.mark.rule("two_collectors", preset="US")
def test_under_the_us_preset_a_lone_visit_is_not_flagged(door, use_policy):
    use_policy(PRESETS["US"])
    lead = Phone(door.client, door.world.login(door.alice))
    filed = lead.send("visit_report", visit(door))
    assert "too_few_collectors" not in filed["flags"]
    assert verified(filed["record_id"]) == [door.alice.id]


# --- who may record, what counts once -------------------------------------------------------


@TWO
def test_the_same_presence_pushed_twice_counts_once(door):
    lead, co = door.phone(door.alice), door.phone(door.bob)
    co.record("visit_presence", presence(door))
    sync(co)
    (sent,) = co.records()
    body = {"device_id": co.device_id, "mutations": [
        {"mutation_id": sent.mutation_id, "type": "visit_presence",
         "client_time": sent.client_time, "payload": sent.payload}]}
    headers = door.world.login(door.bob, device_id=co.device_id)
    again = door.client.post("/sync/push", headers=headers, json=body).get_json()["results"]
    assert again[0]["status"] == "duplicate"  # the same mutation: its first answer
    body["mutations"][0]["mutation_id"] = sent.mutation_id + 1  # the same record, new number
    refused = door.client.post("/sync/push", headers=headers, json=body).get_json()["results"]
    assert refused[0]["status"] == "rejected"
    assert refused[0]["fields"] == {"payload.id": ["already used"]}
    assert db.session.query(VisitPresence).count() == 1

    lead.record("visit_report", visit(door, door.bob, door.carol))
    sync(lead)
    (filed,) = db.session.scalars(select(VisitReport)).all()
    assert json.loads(filed.collector_ids) == [door.alice.id, door.bob.id]
    assert json.loads(filed.flags) == ["unverified_co_collector"]  # Carol never came


@TWO
def test_a_collector_of_another_team_is_answered_as_if_the_case_did_not_exist(door):
    dan = Phone(door.client, door.world.login(door.dan))
    result = dan.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door)})
    assert result["status"] == "rejected" and result["code"] == "not_found"
    assert result["fields"] == {"payload.case_id": ["no such case"]}
    assert db.session.query(VisitPresence).count() == 0


@TWO
def test_an_unnamed_collector_a_mock_location_and_the_old_attestation(door):
    lead, bob = lead_and_bob(door)
    carol = Phone(door.client, door.world.login(door.carol))
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    unnamed = carol.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door)})
    mocked = bob.send("visit_presence", {"id": str(uuid.uuid4()), **presence(door, mock=True)})
    assert mocked["flags"] == ["mock_location"]
    assert verified(filed) == [door.alice.id]  # Carol is not named; Bob's fix is simulated
    assert db.session.get(VisitPresence, unnamed["record_id"]).visit_report_id is None

    # Typing the password on the lead's phone while online still verifies a co-collector.
    attested = cosign(door.client, door.bob, lead.headers)
    now = datetime.now(UTC)
    online = report(door.case.id, door.home.id, start=(now - timedelta(minutes=10)).isoformat(),
                    co=[attested])
    result = lead.send("visit_report", online)
    assert "too_few_collectors" not in result["flags"]
    assert json.loads(stored(result["record_id"]).co_collectors) == [
        {"user_id": door.bob.id, "verified": True, "cosigned": True, "presence_id": None}]


@TWO
def test_a_presence_filed_online_pairs_too(door):
    lead = Phone(door.client, door.world.login(door.alice))
    filed = lead.send("visit_report", visit(door, door.bob))["record_id"]
    headers = door.world.login(door.bob)
    posted = door.client.post(f"/cases/{door.case.id}/presence", headers=headers,
                              json={k: v for k, v in presence(door).items() if k != "case_id"})
    assert posted.status_code == 201, posted.get_json()
    assert posted.get_json()["type"] == "visit_presence"
    assert verified(filed) == [door.alice.id, door.bob.id]
    bad = door.client.post(f"/cases/{door.case.id}/presence", headers=headers,
                           json={"recorded_at": at(0), "lat": 91, "lon": 114.0,
                                 "accuracy_m": 5})
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"lat"}
    assert db.session.query(VisitPresence).count() == 1


# --- a presence and its report at the same moment -------------------------------------------


def file_in(session, user, device_id: str, kind: str, payload: dict) -> None:
    """File one record in `session` as push does (uncommitted)."""
    mutation = MUTATIONS[kind]
    data = mutation.schema().load(payload)
    filer = Principal(user.id, user.role, user.team_id, device_id)
    case, reassigned = case_for_filer(session, filer, data["case_id"], team=mutation.team_may_file)
    ctx = field_context(session, filer, case, reassigned=reassigned,
                        env=FilingEnvironment(), mutation_id=1,
                        client_time=datetime.now(UTC), clock_offset_s=None)
    apply_record(ctx, mutation.apply, data)


def waiting_for_a_lock(session, pid: int) -> bool:
    return session.execute(
        text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
        {"pid": pid},
    ).scalar() is True


@TWO
def test_a_presence_arriving_while_its_report_is_being_filed_still_pairs(app, door):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: two filings cannot overlap there")
    lead_device = door.world.login(door.alice)["X-Device-Id"]
    co_device = door.world.login(door.bob)["X-Device-Id"]
    lead, co = writer_session(app), writer_session(app)
    try:
        file_in(lead, door.alice, lead_device, "visit_report", visit(door, door.bob))
        co_pid = co.execute(text("SELECT pg_backend_pid()")).scalar()
        done = threading.Event()

        def push_presence():
            file_in(co, door.bob, co_device,
                    "visit_presence", {"id": str(uuid.uuid4()), **presence(door)})
            co.commit()
            done.set()

        worker = threading.Thread(target=push_presence)
        worker.start()
        # The presence either waits for the report's case lock or (were there none) is in.
        while not (done.is_set() or waiting_for_a_lock(db.session, co_pid)):
            db.session.rollback()
        lead.commit()
        worker.join()
    finally:
        lead.close()
        co.close()
    (filed,) = db.session.scalars(select(VisitReport)).all()
    assert json.loads(filed.collector_ids) == [door.alice.id, door.bob.id]
    assert json.loads(filed.flags) == []
