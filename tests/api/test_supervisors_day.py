"""A supervisor's day, end to end through the public API and the phones' real sync: the morning's
cases bulk-assigned from the unassigned queue, three collectors' routes planned at once, one
collector's plan arriving on their phone, a re-plan after a cancellation from where the
collector stands, and progress and exceptions that match what happened in the field.

The team works in a zone where it is mid-morning whenever the test runs (an `Etc/GMT±N` zone
picked from the clock), so "today" is a real working day with visit hours still ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from api.extensions import db
from tests.api.test_routes import SHENZHEN, based, near, ok
from tests.field.test_field_work import Phone, photo, report
from tests.sync.test_protocol import pull_all

OFFSETS = [  # km north, km east of the city centre: four cases around each collector's base
    (1, 1), (2, 0), (0, 2), (1.5, 1.5),
    (6, 6), (7, 5), (5, 7), (6.5, 6.5),
    (-6, -6), (-7, -5), (-5, -7), (-6.5, -6.5),
]
BASES = [(0.5, 0.5), (6, 5.5), (-5.5, -6)]


def mid_morning_zone(now: datetime) -> str:
    """A fixed-offset zone in which `now` falls between 10:00 and 11:00 local time."""
    offset = 10 - now.astimezone(UTC).hour
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    # POSIX sign convention: Etc/GMT-8 is UTC+8.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def changes_of(changes, entity):
    return [(c["op"], c["id"]) for c in changes if c["entity"] == entity]


def test_a_supervisors_day(client, world):
    zone = mid_morning_zone(datetime.now(UTC))
    today = datetime.now(ZoneInfo(zone)).date()
    team, other_team = world.team(), world.team()
    team.timezone = zone
    alice, bob, carol = (based(world, team, near(SHENZHEN, *b)) for b in BASES)
    boss = world.login(world.user("supervisor", team))
    their_case = world.case(team=other_team)
    cases = [world.case(team=team, lat=p[0], lon=p[1])
             for p in (near(SHENZHEN, *o) for o in OFFSETS)]
    for case in cases:
        case.debtor.timezone = zone
    db.session.commit()
    phones = {c.id: world.login(c) for c in (alice, bob, carol)}
    cursors = {uid: pull_all(client, h)[1] for uid, h in phones.items()}

    # 1. The morning's queue: the twelve unassigned cases of the team, none of the other team's.
    queue = ok(client.get("/assignments/queue", headers=boss,
                          query_string={"team_id": team.id, "page_size": 100}), 200)
    assert {item["id"] for item in queue["items"]} == {c.id for c in cases}
    refused = client.post("/assignments", headers=boss, json={
        "case_ids": [cases[0].id, their_case.id], "collector_id": alice.id,
        "reason": "morning round"})
    assert refused.status_code in (403, 404, 422)  # all or nothing: someone else's case

    # 2. Bulk-assign four cases to each collector, nearest to their base.
    for n, collector in enumerate((alice, bob, carol)):
        batch = [c.id for c in cases[4 * n: 4 * n + 4]]
        answer = ok(client.post("/assignments", headers=boss, json={
            "case_ids": batch, "collector_id": collector.id, "reason": "morning round"}), 200)
        assert sorted(answer["assigned_case_ids"]) == sorted(batch)
    queue = ok(client.get("/assignments/queue", headers=boss,
                          query_string={"team_id": team.id}), 200)
    assert queue["items"] == []
    alice_cases = {c.id for c in cases[:4]}
    changes, cursors[alice.id] = pull_all(client, phones[alice.id], cursors[alice.id])
    assert {i for op, i in changes_of(changes, "case") if op == "put"} == alice_cases

    # 3. Plan the three collectors' days at once, from their bases.
    answer = ok(client.post("/routes", headers=boss, json={
        "day": today.isoformat(), "collector_ids": [alice.id, bob.id, carol.id],
        "case_ids": [c.id for c in cases], "shift": {"start": "08:00", "end": "20:00"}}))
    plans = {p["collector_id"]: p for p in answer["plans"]}
    assert set(plans) == {alice.id, bob.id, carol.id}
    for n, collector in enumerate((alice, bob, carol)):
        route = plans[collector.id]
        assert {s["case_id"] for s in route["stops"]} == {c.id for c in cases[4 * n: 4 * n + 4]}
        assert route["unplanned"] == []
        starts = [datetime.fromisoformat(s["start"]) for s in route["stops"]]
        assert starts == sorted(starts) and starts[0] >= datetime.now(UTC) - timedelta(minutes=1)
    first_plan = plans[alice.id]

    # 4. Alice's phone receives her plan through sync; Bob's gets only his.
    changes, cursors[alice.id] = pull_all(client, phones[alice.id], cursors[alice.id])
    assert changes_of(changes, "route") == [("put", first_plan["id"])]
    [doc] = [c["data"] for c in changes if c["entity"] == "route"]
    assert [s["case_id"] for s in doc["stops"]] == [s["case_id"] for s in first_plan["stops"]]
    bob_changes, cursors[bob.id] = pull_all(client, phones[bob.id], cursors[bob.id])
    assert changes_of(bob_changes, "route") == [("put", plans[bob.id]["id"])]

    # 5. Alice visits her first stop alone (the policy wants two), with no photo, and the debtor
    #    signs nothing; then the debtor of her third stop calls off.
    first, _, third, _ = (s["case_id"] for s in first_plan["stops"])
    home = next(c for c in cases if c.id == first).debtor.addresses[0]
    started = datetime.now(UTC)  # after the assignment: visits count for who held the case
    phone = Phone(client, phones[alice.id])
    visit = phone.send("visit_report", report(first, home.id, start=started.isoformat(),
                                              minutes=3, fix=(home.lat, home.lon)))
    assert visit["status"] == "applied" and visit["flags"] == ["too_few_collectors"]
    receipt = phone.send("field_receipt", {
        "id": "5b0f5c3e-94b5-4d55-9d8a-3f1d9c0a1e01", "case_id": first, "receipt_no": "R-0001",
        "amount_fen": 150_000, "method": "cash", "payer_name": "张伟",
        "received_at": datetime.now(UTC).isoformat(),
        "files": [photo("receipt")]})
    assert receipt["status"] == "applied", receipt
    here = (home.lat + 0.001, home.lon)
    second_plan = ok(client.post(f"/routes/{first_plan['id']}/replan", headers=phones[alice.id],
                                 json={"position": {"lat": here[0], "lon": here[1]},
                                       "cancelled_case_ids": [third]}))
    stops = {s["case_id"]: s for s in second_plan["stops"]}
    assert stops[first]["status"] == "done" and third not in stops
    assert {cid for cid, s in stops.items() if s["status"] == "planned"} == (
        alice_cases - {first, third})
    assert second_plan["replanned_from_id"] == first_plan["id"]
    changes, cursors[alice.id] = pull_all(client, phones[alice.id], cursors[alice.id])
    assert changes_of(changes, "route") == [("remove", first_plan["id"]),
                                           ("put", second_plan["id"])]

    # 6. Progress as of now matches the field: one visit (lone, inside the geofence and the
    #    hours), 1,500 yuan taken in the field, all of it Alice's.
    progress = ok(client.get("/progress", headers=boss, query_string={
        "team_id": team.id, "month": today.strftime("%Y-%m")}), 200)
    by_collector = {c["collector_id"]: c for c in progress["collectors"]}
    mine = by_collector[alice.id]
    assert mine["visits"]["count"] == 1
    assert mine["visits"]["far_from_address"] == mine["visits"]["outside_visit_hours"] == 0
    assert mine["recovered"]["field_receipts_fen"] == 150_000
    assert by_collector[bob.id]["visits"]["count"] == by_collector[carol.id]["visits"]["count"] == 0
    assert progress["team"]["recovered"]["total_fen"] == 150_000

    # 7. The exceptions feed: the lone visit and its missing photos, for the supervisor to act on;
    #    resolving one with a note takes it off the open list.
    ok(client.post("/exceptions/scan", headers=boss), 200)
    feed = ok(client.get("/exceptions", headers=boss,
                         query_string={"team_id": team.id, "state": "open"}), 200)
    kinds = {(i["kind"], i["case_id"]) for i in feed["items"]}
    assert kinds == {("too_few_collectors", first), ("missing_photos", first)}
    lone = next(i for i in feed["items"] if i["kind"] == "too_few_collectors")
    assert lone["collector_id"] == alice.id and lone["action"] == "arrange_second_collector"
    ok(client.post(f"/exceptions/{lone['id']}/resolve", headers=boss,
                   json={"note": "Bob goes with her this afternoon."}), 200)
    feed = ok(client.get("/exceptions", headers=boss,
                         query_string={"team_id": team.id, "state": "open"}), 200)
    assert [i["kind"] for i in feed["items"]] == ["missing_photos"]
