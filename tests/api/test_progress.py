"""Progress against targets and the leaderboard, figured by hand for one team's June.

The story: team "Futian" (Asia/Shanghai) has collectors Ann and Bo and a case it holds without
a collector; another team has a case of its own. In June 2026 (26 working days: 1 June is a
Monday, the Sundays 7, 14, 21, 28 carry no target) payments come from the lender's file, Ann
takes cash twice (one receipt the lender later posts under the receipt number, one it posts as a
same-amount payment a few days on), a case moves from Ann to Bo on 10 June, Ann's promise is
kept and Bo's broken, and Ann files four visits (one far from the address, one outside visit
hours, one corrected) while Bo's two are clean. The supervisor looks at 12:00 on Saturday 20
June. Every expected figure below is worked out from those events, not read from the code."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from api.extensions import db
from api.models import (
    Assignment,
    Bucket,
    Device,
    FieldReceipt,
    Geofence,
    Instalment,
    NextStep,
    Payment,
    RepaymentPromise,
    Role,
    Target,
    VisitOutcome,
    VisitReport,
)
from api.services.fieldwork.promise_status import refresh_promise_statuses

CST = timezone(timedelta(hours=8))
AS_OF = "2026-06-20T12:00:00+08:00"
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 10, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


class June:
    """The team, its people and cases, and everything that happened to them in June."""

    def __init__(self, world):
        self.world = world
        self.team = world.team("FUTIAN")
        self.other_team = world.team("LUOHU")
        self.ann = world.user(Role.COLLECTOR, self.team)
        self.bo = world.user(Role.COLLECTOR, self.team)
        self.supervisor = world.user(Role.SUPERVISOR, self.team)
        self.other_supervisor = world.user(Role.SUPERVISOR, self.other_team)
        self.other_collector = world.user(Role.COLLECTOR, self.other_team)
        self.admin = world.user(Role.ADMIN)
        self.legal = world.user(Role.LEGAL)
        self.devices = {}
        for user in (self.ann, self.bo):
            self.devices[user.id] = str(uuid.uuid4())
            db.session.add(Device(id=self.devices[user.id], user_id=user.id))
        # Buckets at the start of June come from each schedule as of 31 May.
        self.c1 = self._case(self.ann, due=date(2026, 5, 20))  # 11 days past due: M1
        self.c2 = self._case(self.ann, due=date(2026, 4, 20))  # 41: M2
        self.c3 = self._case(self.bo, due=date(2026, 4, 25))  # 36: M2
        self.c4 = self._case(self.bo, due=date(2026, 1, 20))  # 131: M3+
        self.c5 = self._case(self.ann, due=date(2026, 5, 25))  # 6: M1, moves to Bo
        self.c6 = self._case(None, due=date(2026, 6, 25))  # current, no collector
        self.theirs = self._case(self.other_collector, due=date(2026, 5, 20))
        # Ann held c5 until 10 June 10:00 local; Bo from then on.
        handover = at(10, 10)
        row = db.session.scalar(select(Assignment).where(Assignment.case_id == self.c5.id))
        row.ended_at = handover
        db.session.add(Assignment(case_id=self.c5.id, team_id=self.team.id,
                                  collector_id=self.bo.id, started_at=handover))
        self.c5.collector_id = self.bo.id

        self._pay(self.c1, date(2026, 6, 5), 30_000)
        self._pay(self.c2, date(2026, 6, 12), 20_000)
        self._pay(self.c2, date(2026, 6, 20), 50_000, ref="R-001")  # posts receipt R-001
        self._pay(self.c4, date(2026, 6, 15), 80_000)
        self._pay(self.c5, date(2026, 6, 9), 10_000)  # Ann's still
        self._pay(self.c5, date(2026, 6, 11), 15_000)  # Bo's
        self._pay(self.c6, date(2026, 6, 3), 7_000)
        self._pay(self.theirs, date(2026, 6, 5), 99_999)
        self._pay(self.c1, date(2026, 5, 28), 1)  # May: not June's, and too little to cure
        self._pay(self.c1, date(2026, 6, 21), 40_000)  # posts receipt R-002, after 20 June
        self._receipt(self.ann, self.c2, "R-001", 50_000, at(8))
        self._receipt(self.ann, self.c1, "R-002", 40_000, at(19), received=at(21, 8))

        self._promise(self.ann, self.c1, signed=at(2), plan=[(date(2026, 6, 5), 30_000)])
        self._promise(self.bo, self.c3, signed=at(3), plan=[(date(2026, 6, 7), 60_000)])
        self._promise(self.ann, self.c2, signed=at(18), plan=[(date(2026, 6, 25), 25_000)])
        db.session.flush()
        refresh_promise_statuses(db.session, [self.c1.id, self.c3.id, self.c2.id],
                                 date(2026, 6, 20))

        self._visit(self.ann, self.c1, at(2))
        self._visit(self.ann, self.c2, at(4), flags=["far_from_address"])
        self._visit(self.ann, self.c1, at(6, 22), flags=["outside_visit_hours"])
        wrong = self._visit(self.ann, self.c2, at(9))
        self._visit(self.ann, self.c2, at(9), supersedes=wrong)
        self._visit(self.ann, self.c1, at(19), received=at(21))  # arrives after 20 June
        self._visit(self.bo, self.c3, at(11))
        self._visit(self.bo, self.c4, at(16))
        db.session.commit()

    def _case(self, collector, due: date):
        case = self.world.case(collector=collector, team=None if collector else self.team)
        db.session.execute(delete(Instalment).where(Instalment.case_id == case.id))
        case.instalments = [
            Instalment(seq=k + 1, due_on=due + timedelta(days=30 * k), amount_fen=100_000,
                       principal_fen=90_000) for k in range(6)]
        row = db.session.scalar(select(Assignment).where(Assignment.case_id == case.id))
        row.started_at = LONG_AGO
        return case

    def _pay(self, case, paid_on, amount, ref=None):
        db.session.add(Payment(case_id=case.id, lender_ref=ref or f"P{uuid.uuid4().hex[:8]}",
                               paid_on=paid_on, amount_fen=amount))

    def _field(self, author, case, when, received=None) -> dict:
        return {"id": str(uuid.uuid4()), "case_id": case.id, "author_id": author.id,
                "device_id": self.devices[author.id], "mutation_id": 1, "client_time": when,
                "received_at": received or when + timedelta(minutes=5)}

    def _receipt(self, author, case, number, amount, paid_at, received=None):
        db.session.add(FieldReceipt(**self._field(author, case, paid_at, received),
                                    receipt_no=number, amount_fen=amount, method="cash",
                                    payer_name="Debtor", paid_at=paid_at))

    def _promise(self, author, case, signed, plan):
        db.session.add(RepaymentPromise(
            **self._field(author, case, signed),
            plan=json.dumps([{"due_on": d.isoformat(), "amount_fen": a} for d, a in plan]),
            total_fen=sum(a for _, a in plan), first_due_on=plan[0][0], last_due_on=plan[-1][0],
            method="cash", signer_name="Debtor", signed_at=signed))

    def _visit(self, author, case, started, flags=(), supersedes=None, received=None) -> str:
        report = VisitReport(
            **self._field(author, case, started, received), supersedes_id=supersedes,
            started_at=started, ended_at=started + timedelta(minutes=20),
            local_day=started.date(), collector_ids=json.dumps([author.id]), met="debtor",
            outcome=VisitOutcome.REFUSED, next_step=NextStep.REVISIT,
            geofence=Geofence.OUTSIDE if "far_from_address" in flags else Geofence.INSIDE,
            flags=json.dumps(list(flags)))
        db.session.add(report)
        db.session.flush()
        return report.id

    def targets(self):
        """June's targets, as the supervisor set them back then (June is past now, so the API
        would refuse them today)."""
        for collector_id, measures in (
            (None, {"recovered_fen": 500_000}),
            (self.ann.id, {"recovered_fen": 200_000, "m2_fen": 100_000, "visits": 26}),
            (self.bo.id, {"recovered_fen": 200_000, "m2_account_share_bp": 5000}),
        ):
            db.session.add(Target(month=date(2026, 6, 1), team_id=self.team.id,
                                  collector_id=collector_id, set_by_id=self.supervisor.id,
                                  set_at=at(1, 9), **measures))
        db.session.commit()

    def get(self, user, path="/progress", status=200, **query):
        response = self.world.client.get(path, headers=self.world.login(user),
                                         query_string=query)
        assert response.status_code == status, response.get_json()
        return response.get_json()


@pytest.fixture
def june(world):
    story = June(world)
    story.targets()
    return story


def by_id(body) -> dict:
    return {c["collector_id"]: c for c in body["collectors"]}


def test_the_month_by_hand(june):
    body = june.get(june.supervisor, team_id=june.team.id, month="2026-06", as_of=AS_OF)
    assert (body["first_day"], body["last_day"], body["period"]) == (
        "2026-06-01", "2026-06-30", "month")
    assert body["as_of"] == "2026-06-20T04:00:00+00:00"
    assert (body["working_days"], body["working_days_elapsed"]) == (26, 18)
    ann, bo = by_id(body)[june.ann.id], by_id(body)[june.bo.id]
    # Ann: 30,000 (c1, M1) + 20,000 (c2, M2) + 10,000 (c5 before the handover, M1); the 50,000
    # payment under is her receipt of 8 June, which counts instead.
    assert ann["recovered"] == {
        "total_fen": 110_000, "payments_fen": 60_000, "field_receipts_fen": 50_000,
        "by_bucket": {"current": 0, "M1": 40_000, "M2": 70_000, "M3": 0, "M3+": 0}}
    assert bo["recovered"] == {
        "total_fen": 95_000, "payments_fen": 95_000, "field_receipts_fen": 0,
        "by_bucket": {"current": 0, "M1": 15_000, "M2": 0, "M3": 0, "M3+": 80_000}}
    assert ann["m2_accounts"] == {"held": 1, "paid": 1, "share_bp": 10_000}
    assert bo["m2_accounts"] == {"held": 1, "paid": 0, "share_bp": 0}
    assert ann["promises"] == {"made": 2, "promised_fen": 55_000, "due": 1, "pending": 0,
                               "kept": 1, "partly_kept": 0, "broken": 0, "kept_rate_bp": 10_000}
    assert bo["promises"] == {"made": 1, "promised_fen": 60_000, "due": 1, "pending": 0,
                              "kept": 0, "partly_kept": 0, "broken": 1, "kept_rate_bp": 0}
    assert ann["visits"] == {"count": 4, "far_from_address": 1, "outside_visit_hours": 1,
                             "geofence_compliance_bp": 7500, "visit_hour_compliance_bp": 7500}
    assert bo["visits"] == {"count": 2, "far_from_address": 0, "outside_visit_hours": 0,
                            "geofence_compliance_bp": 10_000, "visit_hour_compliance_bp": 10_000}
    assert body["unassigned"]["recovered"]["by_bucket"]["current"] == 7_000

    team = body["team"]
    assert team["recovered"] == {
        "total_fen": 212_000, "payments_fen": 162_000, "field_receipts_fen": 50_000,
        "by_bucket": {"current": 7_000, "M1": 55_000, "M2": 70_000, "M3": 0, "M3+": 80_000}}
    assert team["m2_accounts"] == {"held": 2, "paid": 1, "share_bp": 5000}
    assert team["promises"]["kept_rate_bp"] == 5000
    assert team["visits"]["count"] == 6
    assert set(by_id(body)) == {june.ann.id, june.bo.id}  # nobody of the other team


def test_against_target_and_pace(june):
    body = june.get(june.supervisor, team_id=june.team.id, month="2026-06", as_of=AS_OF)
    ann, bo = by_id(body)[june.ann.id], by_id(body)[june.bo.id]
    # 18 of 26 working days gone: expected = floor(target × 18 / 26).
    assert ann["against_target"]["recovered_fen"] == {
        "actual": 110_000, "target": 200_000, "expected": 138_461, "achieved_bp": 5500,
        "pace": "behind"}
    assert ann["against_target"]["m2_fen"] == {
        "actual": 70_000, "target": 100_000, "expected": 69_230, "achieved_bp": 7000,
        "pace": "on_track"}
    assert ann["against_target"]["visits"] == {
        "actual": 4, "target": 26, "expected": 18, "achieved_bp": 1538, "pace": "behind"}
    assert ann["against_target"]["m1_fen"] == {
        "actual": 40_000, "target": None, "expected": None, "achieved_bp": None, "pace": None}
    assert bo["against_target"]["m2_account_share_bp"] == {
        "actual": 0, "target": 5000, "expected": 3461, "achieved_bp": 0, "pace": "behind"}
    assert body["team"]["against_target"]["recovered_fen"] == {
        "actual": 212_000, "target": 500_000, "expected": 346_153, "achieved_bp": 4240,
        "pace": "behind"}
    assert body["team"]["targets_derived"] is False


def test_as_of_leaves_out_what_came_later(june):
    """By the month's end the receipt R-002 (taken 19 June, synced 21 June) and the lender's
    40,000 of 21 June are known: they are the same money and count once, on 19 June."""
    later = june.get(june.supervisor, team_id=june.team.id, month="2026-06",
                     as_of="2026-06-30T23:00:00+08:00")
    ann = by_id(later)[june.ann.id]
    assert ann["recovered"]["total_fen"] == 150_000
    assert ann["recovered"]["field_receipts_fen"] == 90_000
    assert ann["visits"]["count"] == 5
    # One second before the receipt reached the server, nothing of it shows yet.
    before = june.get(june.supervisor, team_id=june.team.id, month="2026-06",
                      as_of="2026-06-21T07:59:59+08:00")
    ann = by_id(before)[june.ann.id]
    assert ann["recovered"]["field_receipts_fen"] == 50_000
    assert ann["recovered"]["payments_fen"] == 100_000  # the 21 June payment, unmatched yet
    # Early in the month only the first days count.
    early = june.get(june.supervisor, team_id=june.team.id, month="2026-06",
                     as_of="2026-06-05T09:00:00+08:00")
    assert by_id(early)[june.ann.id]["recovered"]["total_fen"] == 30_000
    assert early["team"]["recovered"]["total_fen"] == 37_000
    assert early["working_days_elapsed"] == 5


def test_a_week_and_a_day(june):
    week = june.get(june.supervisor, team_id=june.team.id, period="week", date="2026-06-10",
                    as_of=AS_OF)
    assert (week["first_day"], week["last_day"], week["working_days"]) == (
        "2026-06-08", "2026-06-14", 6)
    ann = by_id(week)[june.ann.id]
    # 9 June 10,000 (c5) + 12 June 20,000 (c2) + the 8 June receipt 50,000.
    assert ann["recovered"]["total_fen"] == 80_000
    # Working days 7..12 of 26: floor(200,000·12/26) − floor(200,000·6/26).
    assert ann["against_target"]["recovered_fen"]["target"] == 92_307 - 46_153
    assert ann["against_target"]["recovered_fen"]["pace"] == "on_track"
    assert by_id(week)[june.bo.id]["recovered"]["total_fen"] == 15_000

    sunday = june.get(june.supervisor, team_id=june.team.id, period="day", date="2026-06-07",
                      as_of=AS_OF)
    assert sunday["working_days"] == 0
    assert by_id(sunday)[june.ann.id]["against_target"]["recovered_fen"]["target"] == 0
    day = june.get(june.supervisor, team_id=june.team.id, period="day", date="2026-06-15",
                   as_of=AS_OF)
    assert by_id(day)[june.bo.id]["recovered"]["by_bucket"]["M3+"] == 80_000
    # Day 13 of 26 working days.
    assert by_id(day)[june.bo.id]["against_target"]["recovered_fen"]["target"] == (
        200_000 * 13 // 26 - 200_000 * 12 // 26)


def test_a_collector_sees_only_their_own(june):
    mine = june.get(june.ann, month="2026-06", as_of=AS_OF)
    assert mine["team"] is None and mine["unassigned"] is None
    assert [c["collector_id"] for c in mine["collectors"]] == [june.ann.id]
    assert mine["collectors"][0]["recovered"]["total_fen"] == 110_000
    june.get(june.ann, month="2026-06", collector_id=june.bo.id, status=403)
    june.get(june.other_collector, team_id=june.team.id, status=403)
    june.get(june.ann, "/progress/leaderboard", status=403)
    # A supervisor may narrow to one of the team's collectors, never to someone else's.
    bo = june.get(june.supervisor, month="2026-06", collector_id=june.bo.id, as_of=AS_OF)
    assert [c["collector_id"] for c in bo["collectors"]] == [june.bo.id] and bo["team"] is None
    body = june.get(june.supervisor, collector_id=june.other_collector.id, status=422)
    assert set(body["error"]["fields"]) == {"collector_id"}
    assert june.other_collector.full_name not in json.dumps(body)


def test_other_teams_and_legal_are_refused(june):
    june.get(june.other_supervisor, team_id=june.team.id, month="2026-06", status=403)
    june.get(june.other_supervisor, "/progress/leaderboard", team_id=june.team.id, status=403)
    june.get(june.legal, team_id=june.team.id, status=403)
    june.get(june.legal, "/progress/leaderboard", team_id=june.team.id, status=403)
    theirs = june.get(june.other_supervisor, month="2026-06", as_of=AS_OF)
    assert theirs["team_id"] == june.other_team.id
    assert theirs["team"]["recovered"]["total_fen"] == 99_999
    admin = june.get(june.admin, team_id=june.team.id, month="2026-06", as_of=AS_OF)
    assert admin["team"]["recovered"]["total_fen"] == 212_000


def test_bad_progress_queries_name_the_field(june):
    for query, field in (
        ({"month": "2026-13"}, "month"),
        ({"month": "1999-12"}, "month"),
        ({"period": "year"}, "period"),
        ({"period": "week", "month": "2026-06"}, "month"),
        ({"date": "2026-06-10"}, "date"),
        ({"as_of": "2099-01-01T00:00:00+08:00"}, "as_of"),
        ({"as_of": "2026-06-01T00:00:00"}, "as_of"),
        ({"team_id": 0}, "team_id"),
        ({"colour": "red"}, "colour"),
    ):
        body = june.get(june.supervisor, status=422, **query)
        assert field in body["error"]["fields"], (query, body)
    body = june.get(june.admin, status=422)
    assert set(body["error"]["fields"]) == {"team_id"}  # admins belong to no team
    body = june.get(june.admin, team_id=2**31 - 1, status=422)
    assert set(body["error"]["fields"]) == {"team_id"}


def test_leaderboard_pairs_recovery_with_compliance(june):
    """Ann has recovered more of her target (55%) than Bo (47.5%), but one visit in four was
    far from the address and one outside visit hours: 0.75 × 0.75 of compliance puts her
    second."""
    body = june.get(june.supervisor, "/progress/leaderboard", team_id=june.team.id,
                    month="2026-06", as_of=AS_OF)
    assert [(r["rank"], r["collector_id"]) for r in body["collectors"]] == [
        (1, june.bo.id), (2, june.ann.id)]
    bo, ann = body["collectors"]
    assert ann == {
        "rank": 2, "collector_id": june.ann.id, "name": june.ann.full_name,
        "recovered_fen": 110_000, "recovery_target_fen": 200_000, "recovery_achieved_bp": 5500,
        "visits": 4, "geofence_compliance_bp": 7500, "visit_hour_compliance_bp": 7500,
        "compliance_bp": 5625, "kept_rate_bp": 10_000, "score_bp": 3094}
    assert (bo["recovery_achieved_bp"], bo["compliance_bp"], bo["score_bp"]) == (
        4750, 10_000, 4750)


def test_leaderboard_recovery_still_counts(june):
    """With clean visits, more recovery ranks higher; a collector with no target comes last."""
    db.session.execute(delete(VisitReport).where(VisitReport.flags != "[]"))
    cy = june.world.user(Role.COLLECTOR, june.team)
    db.session.commit()
    body = june.get(june.supervisor, "/progress/leaderboard", team_id=june.team.id,
                    month="2026-06", as_of=AS_OF)
    ranked = [r["collector_id"] for r in body["collectors"]]
    assert ranked == [june.ann.id, june.bo.id, cy.id]
    assert body["collectors"][0]["score_bp"] == 5500
    assert body["collectors"][2]["score_bp"] is None


def test_a_team_without_its_own_target_sums_its_collectors(june):
    db.session.execute(delete(Target).where(Target.collector_id.is_(None)))
    db.session.commit()
    body = june.get(june.supervisor, team_id=june.team.id, month="2026-06", as_of=AS_OF)
    assert body["team"]["targets_derived"] is True
    assert body["team"]["against_target"]["recovered_fen"]["target"] == 400_000
    assert body["team"]["against_target"]["m2_fen"]["target"] == 100_000
    assert body["team"]["against_target"]["m2_account_share_bp"]["target"] is None


def test_a_case_with_no_schedule_keeps_its_bucket(june):
    db.session.execute(delete(Instalment).where(Instalment.case_id == june.c4.id))
    june.c4.bucket = Bucket.M3
    db.session.commit()
    body = june.get(june.supervisor, team_id=june.team.id, month="2026-06", as_of=AS_OF)
    assert by_id(body)[june.bo.id]["recovered"]["by_bucket"]["M3"] == 80_000


def test_the_bucket_a_case_starts_june_in_follows_its_schedule_and_may_payments(june):
    """Four instalments of 1,000 yuan fell due on 1 and 31 March, 30 April and 30 May. Paid by
    31 May: 2,000 yuan covers March, so the oldest unpaid is 30 April, 31 days late: M2;
    1,000 yuan leaves 31 March unpaid (61 days): M3; nothing leaves 1 March (91 days): M3+;
    4,000 yuan covers all: current. Each pays a little in June, counted in that bucket."""
    before = by_id(june.get(june.supervisor, team_id=june.team.id, month="2026-06",
                            as_of=AS_OF))[june.bo.id]
    for paid_by_may, june_payment in ((200_000, 500), (100_000, 300), (0, 200),
                                      (400_000, 100)):
        case = june._case(june.bo, due=date(2026, 3, 1))
        if paid_by_may:
            june._pay(case, date(2026, 5, 10), paid_by_may)
        june._pay(case, date(2026, 6, 16), june_payment)
    db.session.commit()
    after = by_id(june.get(june.supervisor, team_id=june.team.id, month="2026-06",
                           as_of=AS_OF))[june.bo.id]
    grew = {b: after["recovered"]["by_bucket"][b] - before["recovered"]["by_bucket"][b]
            for b in before["recovered"]["by_bucket"]}
    assert grew == {"current": 100, "M1": 0, "M2": 500, "M3": 300, "M3+": 200}
    assert after["m2_accounts"] == {"held": 2, "paid": 1, "share_bp": 5000}


def test_opening_buckets_agree_with_the_case_files_loan_figures(june):
    """For schedules and payments of every shape, the bucket progress gives a case for June is
    the one `compute_figures` gives its case file as of 31 May."""
    import random

    from api.services.casefile.loan_figures import PaymentRecord, ScheduledInstalment
    from api.services.casefile.loan_figures import compute_figures as figures
    from api.services.supervision.progress import Window, fill_opening
    from api.services.supervision.targets import Period

    rng = random.Random(2026)
    expected = {}
    for _ in range(40):
        case = june._case(june.ann, due=date(2026, 6, 1))
        first = date(2025, 12, 1) + timedelta(days=rng.randrange(200))
        db.session.execute(delete(Instalment).where(Instalment.case_id == case.id))
        schedule = [ScheduledInstalment(k + 1, first + timedelta(days=30 * k),
                                        rng.choice((0, 50_000, 100_000, 123_456)), 0)
                    for k in range(rng.randint(1, 8))]
        case.instalments = [Instalment(seq=i.seq, due_on=i.due_on, amount_fen=i.amount_fen,
                                       principal_fen=0) for i in schedule]
        payments = [PaymentRecord(first + timedelta(days=rng.randrange(200)),
                                  rng.choice((1, 50_000, 100_000, 250_000)))
                    for _ in range(rng.randint(0, 4))]
        for p in payments:
            june._pay(case, p.paid_on, p.amount_fen)
        expected[case.id] = figures(schedule, payments, date(2026, 5, 31)).bucket
    db.session.flush()
    window = Window(june.team.id, ZoneInfo("Asia/Shanghai"), Period.of("month", date(2026, 6, 1)),
                    datetime(2026, 6, 20, 4, tzinfo=UTC))
    table = fill_opening(db.session, window)
    got = dict(db.session.execute(select(table.c.case_id, table.c.bucket)).all())
    assert {k: got[k] for k in expected} == expected
    assert len(set(expected.values())) >= 4  # the shapes reached most buckets
    db.session.rollback()
