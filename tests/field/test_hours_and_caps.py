"""Visit and contact hours in the debtor's local time, and the attempt caps, through real
pushes: at each boundary of each preset (CN 21:59:59 vs 22:00:00, US 20:59 vs 21:00, IN
19:00), for debtors in Asia/Urumqi and America/Chicago, and under two phones pushing at once."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.extensions import db
from api.services.compliance.presets import PRESETS
from tests.field.test_field_work import Phone, report

SHANGHAI = "Asia/Shanghai"


def local(value: str, zone: str) -> str:
    """An ISO instant from a debtor-local wall-clock time."""
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone)).isoformat()


def call(case_id: int, at: str, outcome: str = "connected", channel: str = "call") -> dict:
    return {"id": str(uuid.uuid4()), "case_id": case_id, "channel": channel, "outcome": outcome,
            "occurred_at": at}


@pytest.fixture
def debtor(world, client):
    """A collector's phone and a case whose debtor lives in `zone` under `jurisdiction`."""

    def make(zone: str = SHANGHAI, jurisdiction: str = "CN"):
        team = world.team()
        alice = world.user("collector", team)
        case = world.case(collector=alice)
        case.debtor.timezone, case.jurisdiction = zone, jurisdiction
        db.session.commit()
        home = case.debtor.addresses[0]
        return case, home.id, Phone(client, world.login(alice))

    return make


def flags_of(phone: Phone, type_: str, payload: dict) -> list[str]:
    result = phone.send(type_, payload)
    assert result["status"] == "applied", result
    return result["flags"]


def visit_ending(case_id: int, address_id: int, end: str, zone: str) -> dict:
    """A 20-minute visit that ends at the debtor-local `end`."""
    start = datetime.fromisoformat(local(end, zone)) - timedelta(minutes=20)
    return report(case_id, address_id, start=start.isoformat())


# ----------------------------------------------------------------------------- hours


@pytest.mark.rule("visit_hours", preset="CN")
def test_cn_a_visit_ending_21_59_59_is_inside_and_one_ending_22_00_is_not(debtor):
    case, home, phone = debtor()
    inside = flags_of(phone, "visit_report",
                      visit_ending(case.id, home, "2026-11-20T21:59:59", SHANGHAI))
    outside = flags_of(phone, "visit_report",
                       visit_ending(case.id, home, "2026-11-20T22:00:00", SHANGHAI))
    assert "outside_visit_hours" not in inside
    assert "outside_visit_hours" in outside


@pytest.mark.rule("contact_hours", preset="CN")
def test_cn_a_call_at_21_59_59_is_inside_and_one_at_22_00_is_flagged(debtor):
    case, _, phone = debtor()
    before = flags_of(phone, "contact_attempt",
                      call(case.id, local("2026-11-20T21:59:59", SHANGHAI), "no_answer"))
    at_ten = flags_of(phone, "contact_attempt",
                      call(case.id, local("2026-11-20T22:00:00", SHANGHAI), "no_answer"))
    sms_early = flags_of(phone, "contact_attempt", call(
        case.id, local("2026-11-20T07:59:00", SHANGHAI), "sent", channel="sms"))
    knock = flags_of(phone, "contact_attempt", call(  # a knock is a visit: visit hours judge it
        case.id, local("2026-11-20T22:30:00", SHANGHAI), "nobody_home", channel="visit_attempt"))
    assert "outside_contact_hours" not in before
    assert "outside_contact_hours" in at_ten and "outside_contact_hours" in sms_early
    assert "outside_contact_hours" not in knock


@pytest.mark.rule("visit_hours", preset="US")
@pytest.mark.rule("contact_hours", preset="US")
def test_us_in_chicago_20_59_is_inside_and_21_00_is_not(debtor):
    zone = "America/Chicago"
    case, home, phone = debtor(zone, "US")
    assert "outside_contact_hours" not in flags_of(
        phone, "contact_attempt", call(case.id, local("2026-11-20T20:59:00", zone)))
    assert "outside_contact_hours" in flags_of(
        phone, "contact_attempt", call(case.id, local("2026-11-20T21:00:00", zone)))
    assert "outside_visit_hours" not in flags_of(
        phone, "visit_report", visit_ending(case.id, home, "2026-11-20T20:59:00", zone))
    late = flags_of(phone, "visit_report", visit_ending(case.id, home, "2026-11-20T21:00:00", zone))
    assert "outside_visit_hours" in late
    # One collector is enough under the US preset.
    assert "too_few_collectors" not in late


@pytest.mark.rule("visit_hours", preset="IN")
@pytest.mark.rule("contact_hours", preset="IN")
def test_in_19_00_closes_visits_and_calls(debtor):
    zone = "Asia/Kolkata"
    case, home, phone = debtor(zone, "IN")
    assert "outside_contact_hours" not in flags_of(
        phone, "contact_attempt", call(case.id, local("2026-11-20T18:59:00", zone)))
    assert "outside_contact_hours" in flags_of(
        phone, "contact_attempt", call(case.id, local("2026-11-20T19:00:00", zone)))
    assert "outside_visit_hours" not in flags_of(
        phone, "visit_report", visit_ending(case.id, home, "2026-11-20T18:59:00", zone))
    assert "outside_visit_hours" in flags_of(
        phone, "visit_report", visit_ending(case.id, home, "2026-11-20T19:00:00", zone))


@pytest.mark.rule("contact_hours", preset="CN")
@pytest.mark.rule("visit_hours", preset="CN")
def test_a_debtor_in_urumqi_is_judged_by_urumqi_clocks(debtor):
    """09:59 Beijing is 07:59 in Ürümqi: too early there, though Beijing's day has begun."""
    zone = "Asia/Urumqi"
    case, home, phone = debtor(zone)
    early = call(case.id, local("2026-11-20T09:59:00", SHANGHAI), "no_answer")
    assert "outside_contact_hours" in flags_of(phone, "contact_attempt", early)
    assert "outside_contact_hours" not in flags_of(
        phone, "contact_attempt", call(case.id, local("2026-11-20T08:00:00", zone), "no_answer"))
    # 23:50 Beijing is 21:50 in Ürümqi: a visit then is inside Ürümqi's hours.
    assert "outside_visit_hours" not in flags_of(
        phone, "visit_report", visit_ending(case.id, home, "2026-11-20T23:50:00", SHANGHAI))


# ----------------------------------------------------------------------------- caps


@pytest.mark.rule("daily_attempt_cap", preset="CN")
def test_cn_a_third_connected_call_is_allowed_and_the_fourth_flagged(debtor):
    case, _, phone = debtor()
    day = [local(f"2026-11-20T{h}:00:00", SHANGHAI) for h in ("09", "10", "11", "12")]
    assert flags_of(phone, "contact_attempt", call(case.id, day[0], "no_answer")) == []
    verdicts = [flags_of(phone, "contact_attempt", call(case.id, at)) for at in day]
    assert verdicts[:3] == [[], [], []]
    assert verdicts[3] == ["over_daily_attempt_cap"]
    # A promise is a connected call too; the debtor-local day after starts again at zero.
    assert flags_of(phone, "contact_attempt", call(case.id, day[3], "promised")) == [
        "over_daily_attempt_cap"]
    assert flags_of(phone, "contact_attempt",
                    call(case.id, local("2026-11-21T08:00:00", SHANGHAI))) == []


@pytest.mark.rule("daily_attempt_cap", preset="CN")
def test_the_daily_cap_counts_the_debtor_local_day(debtor):
    """Ürümqi's day ends at 02:00 Beijing: calls at 01:00 and 01:30 Beijing (23:00, 23:30
    Ürümqi) count with that evening's."""
    zone = "Asia/Urumqi"
    case, _, phone = debtor(zone)
    for h in ("19", "20"):
        assert flags_of(phone, "contact_attempt",
                        call(case.id, local(f"2026-11-20T{h}:00:00", zone))) == []
    assert flags_of(phone, "contact_attempt", call(
        case.id, local("2026-11-21T01:00:00", SHANGHAI))) == ["outside_contact_hours"]
    assert flags_of(phone, "contact_attempt", call(
        case.id, local("2026-11-21T01:30:00", SHANGHAI))) == [
        "outside_contact_hours", "over_daily_attempt_cap"]
    assert flags_of(phone, "contact_attempt", call(
        case.id, local("2026-11-21T10:00:00", zone))) == []


@pytest.mark.rule("weekly_attempt_cap", preset="US")
def test_us_an_eighth_call_in_seven_days_is_flagged(debtor):
    zone = "America/Chicago"
    case, _, phone = debtor(zone, "US")
    days = [local(f"2026-11-{d:02d}T10:00:00", zone) for d in range(10, 17)]  # 10th to 16th
    for at in days:  # any outcome counts under Reg F
        assert flags_of(phone, "contact_attempt", call(case.id, at, "no_answer")) == []
    eighth = call(case.id, local("2026-11-16T20:00:00", zone), "busy")
    assert flags_of(phone, "contact_attempt", eighth) == ["over_weekly_attempt_cap"]
    # A week after the first call, the first no longer counts.
    assert flags_of(phone, "contact_attempt",
                    call(case.id, local("2026-11-17T10:00:00", zone), "no_answer")) == [
        "over_weekly_attempt_cap"]  # 11th..17th: 7 before it (the 8th call on the 16th counts)
    late = call(case.id, local("2026-11-24T10:00:01", zone), "no_answer")
    assert flags_of(phone, "contact_attempt", late) == []
    # A text message is not a call attempt.
    assert flags_of(phone, "contact_attempt",
                    call(case.id, local("2026-11-16T12:00:00", zone), "sent", "sms")) == []


@pytest.mark.rule("daily_attempt_cap", preset=None)
def test_calls_and_visits_counted_together_when_the_policy_says_so(debtor, use_policy):
    use_policy(dataclasses.replace(PRESETS["CN"], attempts_counted="calls_and_visits",
                                   daily_attempt_cap=2))
    case, home, phone = debtor()
    assert flags_of(phone, "contact_attempt",
                    call(case.id, local("2026-11-20T09:00:00", SHANGHAI), "no_answer")) == []
    visit = report(case.id, home, start=local("2026-11-20T10:00:00", SHANGHAI))
    assert "over_daily_attempt_cap" not in flags_of(phone, "visit_report", visit)
    knock = call(case.id, local("2026-11-20T11:00:00", SHANGHAI), "nobody_home", "visit_attempt")
    assert flags_of(phone, "contact_attempt", knock) == ["over_daily_attempt_cap"]
    # A correction is the same visit, not another attempt.
    fixed = {**visit, "id": str(uuid.uuid4()), "supersedes_id": visit["id"]}
    assert "over_daily_attempt_cap" not in flags_of(phone, "visit_report", fixed)


# ----------------------------------------------------------------------------- concurrency


ROUNDS = 4
PER_PHONE = 3


@pytest.mark.rule("daily_attempt_cap", preset="CN")
def test_two_phones_pushing_connected_calls_at_once_are_counted_exactly(app, world, client):
    """Each round, two phones of the debtor's collectors push 3 connected calls each at the
    same moment (one debtor-local day per round): exactly 3 of the 6 are over the cap."""
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    case = world.case(collector=alice)
    second = world.case(collector=bob)
    second.debtor_id = case.debtor_id  # the same debtor, held in two cases
    db.session.commit()
    phones = [(world.login(alice), case.id), (world.login(bob), second.id)]
    next_id = {h["X-Device-Id"]: 1 for h, _ in phones}

    for n in range(ROUNDS):
        day = f"2026-11-{10 + n:02d}"
        start = threading.Barrier(len(phones))
        answers: list[dict] = []

        def push(headers, case_id, day=day, start=start, answers=answers):
            device = headers["X-Device-Id"]
            mutations = []
            for k in range(PER_PHONE):
                mutations.append({
                    "mutation_id": next_id[device] + k, "type": "contact_attempt",
                    "client_time": local(f"{day}T10:00:00", SHANGHAI),
                    "payload": call(case_id, local(f"{day}T10:0{k}:00", SHANGHAI))})
            next_id[device] += PER_PHONE
            with app.app_context():
                sender = app.test_client()
                start.wait()
                for _ in range(20):  # a 503 (lock wait) is retried, as a phone would
                    response = sender.post("/sync/push", headers=headers, json={
                        "device_id": device, "mutations": mutations})
                    results = response.get_json()["results"]
                    answers += [r for r in results if r["status"] == "applied"]
                    mutations = [m for m, r in zip(mutations, results, strict=True)
                                 if r["status"] == "not_applied"]
                    if not mutations:
                        return

        threads = [threading.Thread(target=push, args=p) for p in phones]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == 2 * PER_PHONE, answers
        over = [a for a in answers if "over_daily_attempt_cap" in a["flags"]]
        assert len(over) == 2 * PER_PHONE - 3, f"round {n}: {answers}"
