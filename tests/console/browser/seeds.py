"""What the console's browser tests find on the server: seeded once per engine through the real
services and API (`conftest.server` runs them before `fieldvisit serve` starts)."""

from __future__ import annotations

import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from api.extensions import db
from api.jobs import run as run_job
from api.jobs.imports import AFTER_CHUNK, ask_for_job
from api.models import Address, Device, Role, User
from api.services.identity.accounts import Principal
from api.services.imports import runs
from tests.api.test_routes import SHENZHEN, near, tomorrow
from tests.console.browser.failed_file import failed_thumbnail
from tests.factories import World
from tests.field.conftest import PHOTOS, declaration, upload_and_complete
from tests.field.filing_records import file_online
from tests.field.test_field_work import report

DONGGUAN = (23.0207, 113.7518)


@dataclass
class Seeded:
    """Who and what the console's tests find on the server."""

    url: str
    engine: str
    supervisor: str
    supervisor_id: int
    collector: str
    legal: str
    admin: str
    collectors: dict[str, int]  # full name: id
    cases: list[dict]  # {id, contract_no, plate}
    route_day: date
    route_collector: str
    route_stops: list[str] = field(default_factory=list)  # contract numbers, in order
    photo: dict = field(default_factory=dict)  # the filed visit's photo: {case_id, file_id, sha256}
    import_run: dict = field(default_factory=dict)  # {id, errors: [(row, field, contract_no)]}
    env: dict[str, str] = field(default_factory=dict)  # the server's settings and keys, for the CLI
    admin_seed: dict = field(default_factory=dict)  # seed_admin_screens(): the admin's and feed's
    day_team: dict = field(default_factory=dict)  # team SZ-2: see seed_supervisors_day


def seed(world: World) -> dict:
    """A team with a supervisor and two collectors (one with a planned day, one whose phone has
    been silent for three days: an open exception), legal staff, an administrator, and eight
    cases around Shenzhen: three held, five unassigned."""
    team = world.team("SZ-1")
    supervisor = world.user("supervisor", team, username="sz-boss")
    alice = world.user("collector", team, username="sz-alice")
    bob = world.user("collector", team, username="sz-bob")
    alice.full_name, bob.full_name = "Alice Wang", "Bob Li"
    alice.base_lat, alice.base_lon = SHENZHEN
    legal = world.user("legal", username="legal-lin")
    admin = world.user("admin", username="root-admin")
    cases = []
    for n in range(8):
        lat, lon = near(SHENZHEN, 1 + n % 4, 1 + n // 4)
        case = world.case(team=team, collector=alice if n < 3 else None, lat=lat, lon=lon,
                          days_past_due=20 + 10 * n)
        case.collateral[0].plate = f"粤B{12340 + n}"
        cases.append(case)
    db.session.commit()
    day = tomorrow()
    boss = world.login(supervisor)
    planned = world.client.post("/routes", headers=boss, json={
        "day": day.isoformat(), "collector_id": alice.id,
        "case_ids": [c.id for c in cases[:3]], "shift": {"start": "08:00", "end": "20:00"}})
    assert planned.status_code == 201, planned.get_data(as_text=True)
    [plan] = planned.get_json()["plans"]
    phone = world.login(bob)["X-Device-Id"]  # Bob's phone, silent for three days
    db.session.get(Device, phone).last_seen_at = datetime.now(UTC) - timedelta(days=3)
    db.session.commit()
    scanned = world.client.post("/exceptions/scan", headers=boss)
    assert scanned.get_json()["kinds"]["device_silent"]["opened"] == 1, scanned.get_json()
    photo = file_visit_with_photo(world, alice, cases[0])
    run = world.client.post(  # a payments file naming two contracts the book does not hold
        "/imports", query_string={"kind": "payments"}, headers=world.login(admin),
        content_type="application/json", data=json.dumps({
        "format": "fieldvisit.payments.v1", "payments": [
            {"contract_no": f"HT-NOPE-{n}", "ref": f"P-{n}", "paid_on": "2026-11-20",
             "amount_fen": 100, "method": "bank_transfer"} for n in (1, 2)]}))
    assert run.status_code == 201, run.get_data(as_text=True)
    day_team = seed_supervisors_day(world)
    return dict(
        supervisor=supervisor.username, supervisor_id=supervisor.id, collector=bob.username,
        legal=legal.username, admin=admin.username,
        collectors={alice.full_name: alice.id, bob.full_name: bob.id, **day_team["collectors"]},
        cases=[{"id": c.id, "contract_no": c.contract_no, "plate": c.collateral[0].plate}
               for c in cases],
        route_day=day, route_collector=alice.full_name,
        route_stops=[s["contract_no"] for s in sorted(plan["stops"], key=lambda s: s["sequence"])],
        photo=photo, import_run={"id": run.get_json()["id"], "errors": [
            (e["row"], e["field"], e["contract_no"]) for e in run.get_json()["errors"]]},
        day_team=day_team)


# --- the supervisor's day: team SZ-2 (the map's several collectors, proposals, progress) ------


def seed_supervisors_day(world: World) -> dict:
    """Team SZ-2, apart from SZ-1 so the queue's counts stay as they are: a supervisor, two
    collectors each with a base, eight cases near Dongguan (three held by Carol, two by Dan,
    three unassigned), a visit Carol filed on 2026-11-20 about 1.1 km from the home address
    (flagged far_from_address), and two field proposals of hers awaiting review on her second
    case (a work address, a work phone). Its collectors are added to `Seeded.collectors`."""
    team = world.team("SZ-2")
    chief = world.user("supervisor", team, username="sz-chief")
    carol = world.user("collector", team, username="sz-carol")
    dan = world.user("collector", team, username="sz-dan")
    carol.full_name, dan.full_name = "Carol Zhao", "Dan Chen"
    carol.base_lat, carol.base_lon = near(DONGGUAN, 0, -2)
    dan.base_lat, dan.base_lon = near(DONGGUAN, 0, 6)
    holders = [carol] * 3 + [dan] * 2 + [None] * 3
    cases = []
    for n, holder in enumerate(holders):
        lat, lon = near(DONGGUAN, 1 + n % 3, n - 2)
        case = world.case(team=team, collector=holder, lat=lat, lon=lon, days_past_due=35 + 5 * n)
        case.collateral[0].plate = f"粤S{56780 + n}"
        cases.append(case)
    db.session.commit()
    phone = world.login(carol)
    visited = cases[0]
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == visited.debtor_id, Address.lender_ref == "A1"))
    filed = file_online(world.client, phone, visited.id, "visits",
                        report(visited.id, home.id, fix=(home.lat + 0.01, home.lon)))
    assert filed.status_code in (200, 201), filed.get_data(as_text=True)
    assert "far_from_address" in filed.get_json()["flags"], filed.get_json()
    proposed = {
        "address": {"kind": "work", "text": "东莞市南城区鸿福路 88 号 12 楼",
                    "lat": home.lat + 0.02, "lon": home.lon},
        "phone": {"phone": "13922223333", "label": "work"},
    }
    proposals = {}
    for kind, data in proposed.items():
        body = {"id": str(uuid.uuid4()), "kind": kind, "data": data,
                "note": f"learnt at the door ({kind})"}
        sent = file_online(world.client, phone, cases[1].id, "proposals", body)
        assert sent.status_code in (200, 201), sent.get_data(as_text=True)
        proposals[kind] = {"id": body["id"], **data}
    return dict(
        supervisor=chief.username, team_id=team.id,
        collectors={carol.full_name: carol.id, dan.full_name: dan.id},
        cases=[{"id": c.id, "contract_no": c.contract_no, "collector_id": h.id if h else None}
               for c, h in zip(cases, holders, strict=True)],
        visit={"day": "2026-11-20", "case_id": visited.id, "contract_no": visited.contract_no,
               "flags": filed.get_json()["flags"]},
        proposal_case={"id": cases[1].id, "contract_no": cases[1].contract_no},
        proposals=proposals)


# --------------------------------------------------------------- the admin screens and the feed
# A second team (GZ-1) whose collector's phone is silent and who proposed a phone number (two
# kinds in the feed, neither in SZ-1's); a policy for a lender no case has, to edit; a cases
# import left running mid-file (its worker gone after the first chunk), to cancel.


def seed_admin_screens(world: World) -> dict:
    team = world.team("GZ-1")
    team.timezone = "Asia/Urumqi"
    carol = world.user("collector", team, username="gz-carol")
    carol.full_name = "Carol Zhou"
    case = world.case(team=team, collector=carol, lat=23.13, lon=113.26, days_past_due=45)
    case.collateral[0].plate = "粤A55555"
    db.session.commit()
    phone = world.login(carol)
    proposed = file_online(world.client, phone, case.id, "proposals", {
        "id": str(uuid.uuid4()), "case_id": case.id, "kind": "phone",
        "data": {"phone": "+86 139 1234 5678", "label": "work"}, "note": "From the neighbour"})
    assert proposed.status_code in (200, 201), proposed.get_data(as_text=True)
    silent = db.session.get(Device, phone["X-Device-Id"])
    silent.last_seen_at = datetime.now(UTC) - timedelta(days=4)
    db.session.commit()
    admin = world.login(db.session.scalar(select(User).where(User.username == "root-admin")))
    scanned = world.client.post("/exceptions/scan", headers=admin).get_json()["kinds"]
    # Carol's proposal, and the two of team SZ-2 (seed_supervisors_day), unreviewed all along.
    assert scanned["device_silent"]["opened"] == 1 and scanned["proposal_unreviewed"]["opened"] == 3
    policy = world.client.post("/policies", headers=admin, json={
        "name": "cn-console-lender", "jurisdiction": "CN", "lender": "console-lender",
        "description": "Stricter hours for one lender", "rules": {"visit_hours_end": "20:00"}})
    assert policy.status_code == 201, policy.get_json()
    return {"team": team.code, "team_label": f"{team.code} · {team.name}",
            "collector": carol.username, "collector_name": carol.full_name,
            "collector_id": carol.id, "policy": policy.get_json()["name"],
            "running_import": running_import(world, admin),
            "failed_thumbnail": failed_thumbnail(world, team, admin)}


@dataclass
class RunningImport:
    """A payments file of five records whose job, in a thread of the seeding app, committed its
    first chunk of two and waits (holding no transaction) until `release()`: `running`, 2 of 5."""

    id: int
    gate: threading.Event
    thread: threading.Thread

    def release(self) -> None:
        """Let the job go on: to its next chunk, where a cancel asked for meanwhile stops it."""
        self.gate.set()
        self.thread.join(timeout=60)


def running_import(world: World, admin: dict) -> RunningImport:
    me = world.client.get("/auth/me", headers=admin).get_json()
    principal = Principal(user_id=me["id"], role=Role.ADMIN, team_id=None, device_id=None)
    data = json.dumps({"format": "fieldvisit.payments.v1", "payments": [
        {"contract_no": f"HT-LATE-{n}", "ref": f"L-{n}", "paid_on": "2026-11-20",
         "amount_fen": 100, "method": "bank_transfer"} for n in range(5)]}).encode()
    data = io.BytesIO(data)
    app, config = world.app, world.app.config["FIELDVISIT"]
    run = runs.queue_import(db.session, app.extensions["fieldvisit.blobs"], data,
                            kind="payments", file_format="json", principal=principal,
                            filename="late-payments.json")
    job_id = ask_for_job(db.session, run, send=False).id
    db.session.commit()
    run_id, chunk_rows = run.id, config.import_chunk_rows
    gate, reached = threading.Event(), threading.Event()

    def hold(chunk_run_id, done, total):
        if chunk_run_id == run_id:
            reached.set()
            gate.wait(timeout=900)

    def work():
        with app.app_context():
            run_job(db.session, job_id)
            db.session.remove()

    AFTER_CHUNK.append(hold)
    config.import_chunk_rows = 2
    thread = threading.Thread(target=work, name="console-seed-import", daemon=True)
    thread.start()
    try:
        assert reached.wait(timeout=60), "the seeded import never finished its first chunk"
    finally:
        config.import_chunk_rows = chunk_rows  # the job has read it
    AFTER_CHUNK.remove(hold)  # the job holds its own reference while it waits
    db.session.rollback()  # a fresh read of what the job committed
    db.session.expire_all()
    shown = world.client.get(f"/imports/{run_id}", headers=admin).get_json()
    assert (shown["status"], shown["done"], shown["total"]) == ("running", 2, 5), shown
    return RunningImport(run_id, gate, thread)


def file_visit_with_photo(world: World, collector, case) -> dict:
    """Alice files a visit to the case's home address online with a real photo, declared where
    and when it was taken, and uploads it as her phone would."""
    phone = world.login(collector)
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1"))
    lat, lon = home.lat, home.lon
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    declared = declaration("DSCN0010.jpg", "site", data=data, lat=lat, lon=lon)
    filed = file_online(world.client, phone, case.id, "visits",
                        report(case.id, home.id, fix=(lat, lon), files=[declared]))
    assert filed.status_code in (200, 201), filed.get_data(as_text=True)
    upload_and_complete(world.client, phone, declared["id"], data)
    return {"case_id": case.id, "file_id": declared["id"], "sha256": declared["sha256"]}
