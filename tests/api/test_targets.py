"""Monthly targets: a supervisor sets the team's month and each collector's, replaces them,
reads them back split into weeks and days; bad input names the field and saves nothing; nobody
reads or sets another team's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import Role, Target
from api.services.supervision.targets import Period, working_days


def this_month(zone: str = "Asia/Shanghai") -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date().replace(day=1)


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def month_text(first: date) -> str:
    return f"{first:%Y-%m}"


class Team:
    def __init__(self, world):
        self.world = world
        self.team = world.team()
        self.ann = world.user(Role.COLLECTOR, self.team)
        self.bo = world.user(Role.COLLECTOR, self.team)
        self.supervisor = world.user(Role.SUPERVISOR, self.team)
        self.other = world.team()
        self.their_collector = world.user(Role.COLLECTOR, self.other)
        self.their_supervisor = world.user(Role.SUPERVISOR, self.other)
        self.admin = world.user(Role.ADMIN)
        self.legal = world.user(Role.LEGAL)
        self._headers = {}

    def headers(self, user):
        if user.id not in self._headers:
            self._headers[user.id] = self.world.login(user)
        return self._headers[user.id]

    def put(self, user, body, status=200):
        response = self.world.client.put("/targets", json=body, headers=self.headers(user))
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def get(self, user, status=200, **query):
        response = self.world.client.get("/targets", query_string=query,
                                         headers=self.headers(user))
        assert response.status_code == status, response.get_json()
        return response.get_json()

    def body(self, month: date, **extra):
        return {"month": month_text(month), "team_id": self.team.id,
                "team": {"recovered_fen": 2_600_000, "m1_fen": 1_000_000, "m2_fen": 800_000,
                         "m2_account_share_bp": 4000},
                "collectors": [
                    {"collector_id": self.ann.id, "recovered_fen": 1_300_000, "visits": 52},
                    {"collector_id": self.bo.id, "m2_fen": 400_000, "m3_plus_fen": 100_001},
                ], **extra}


@pytest.fixture
def t(world):
    return Team(world)


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Target))


def test_a_supervisor_sets_the_month_and_reads_it_back(t):
    month = this_month()
    body = t.put(t.supervisor, t.body(month))
    assert body["month"] == month_text(month) and body["team_id"] == t.team.id
    assert body["team"]["recovered_fen"] == 2_600_000
    assert body["team"]["m2_account_share_bp"] == 4000 and body["team"]["derived"] is False
    assert body["team"]["set_by_id"] == t.supervisor.id
    rows = {c["collector_id"]: c for c in body["collectors"]}
    assert rows[t.ann.id]["recovered_fen"] == 1_300_000 and rows[t.ann.id]["m1_fen"] is None
    assert rows[t.ann.id]["name"] == t.ann.full_name
    assert rows[t.bo.id]["m3_plus_fen"] == 100_001
    assert t.get(t.supervisor, month=month_text(month)) == body
    assert t.get(t.admin, team_id=t.team.id, month=month_text(month)) == body
    assert stored() == 3


def test_setting_again_replaces_the_month(t):
    month = next_month(this_month())
    t.put(t.supervisor, t.body(month))
    body = t.put(t.supervisor, {"month": month_text(month), "team_id": t.team.id,
                                "collectors": [{"collector_id": t.bo.id, "visits": 10}]})
    assert [c["collector_id"] for c in body["collectors"]] == [t.bo.id]
    assert body["collectors"][0]["m2_fen"] is None and body["collectors"][0]["visits"] == 10
    # No team row now: the team's figure is the sum of its collectors'.
    assert body["team"]["derived"] is True and body["team"]["visits"] == 10
    assert body["team"]["recovered_fen"] is None
    assert stored() == 1
    # Another month is untouched by replacing this one.
    t.put(t.supervisor, t.body(this_month()))
    t.put(t.supervisor, {"month": month_text(month), "team_id": t.team.id})
    assert t.get(t.supervisor, month=month_text(month))["collectors"] == []
    assert t.get(t.supervisor, month=month_text(month))["team"] is None
    assert stored() == 3


def test_the_split_adds_up_to_the_month_over_working_days(t):
    month = next_month(this_month())
    body = t.put(t.supervisor, t.body(month))
    last = next_month(month) - timedelta(days=1)
    n = working_days(month, last)
    assert body["working_days"] == n
    team = body["team"]
    weeks = team["weekly"]
    assert weeks[0]["first_day"] == month.isoformat() and weeks[-1]["last_day"] == last.isoformat()
    for week in weeks:
        first, end = date.fromisoformat(week["first_day"]), date.fromisoformat(week["last_day"])
        assert first.weekday() == 0 or first == month  # weeks run Monday to Sunday
        assert end.weekday() == 6 or end == last
        assert week["working_days"] == sum(
            1 for k in range((end - first).days + 1) if (first + timedelta(k)).weekday() != 6)
    for measure in ("recovered_fen", "m1_fen", "m2_fen", "m2_account_share_bp"):
        assert sum(w[measure] for w in weeks) == team[measure]
        assert team["daily"][measure] == team[measure] // n
    assert all(w["m3_plus_fen"] is None for w in weeks)
    bo = next(c for c in body["collectors"] if c["collector_id"] == t.bo.id)
    assert sum(w["m3_plus_fen"] for w in bo["weekly"]) == 100_001


def test_the_split_rule_by_hand():
    june = Period.of("month", date(2026, 6, 1))  # 1 June 2026 is a Monday; 26 working days
    assert june.working_days() == 26
    days = [Period.of("day", date(2026, 6, d)) for d in range(1, 31)]
    shares = [d.share(100) for d in days]
    assert sum(shares) == 100
    assert shares[6] == shares[13] == shares[20] == shares[27] == 0  # Sundays
    assert sorted(set(s for s in shares if s)) == [3, 4]  # 100/26 ≈ 3.85, spread to the fen
    # The week of 29 June - 5 July is clipped to June: Monday and Tuesday.
    tail = Period.of("week", date(2026, 6, 30))
    assert (tail.first, tail.last, tail.working_days()) == (date(2026, 6, 29),
                                                             date(2026, 6, 30), 2)
    assert tail.share(2600) == 200
    # The pace expected by Wednesday 10 June: 9 working days of 26 (Sunday 7 June is not one).
    assert june.share(2600, through=date(2026, 6, 10)) == 900
    assert june.share(2600, through=date(2026, 5, 31)) == 0


def test_a_collector_reads_only_their_own(t):
    month = this_month()
    t.put(t.supervisor, t.body(month))
    mine = t.get(t.ann, month=month_text(month))
    assert mine["team"] is None
    assert [c["collector_id"] for c in mine["collectors"]] == [t.ann.id]
    t.get(t.ann, collector_id=t.bo.id, status=403)
    t.get(t.their_collector, team_id=t.team.id, status=403)
    # Collectors and legal staff set nothing.
    t.put(t.ann, t.body(month), status=403)
    t.put(t.legal, t.body(month), status=403)
    t.get(t.legal, team_id=t.team.id, status=403)


def test_another_teams_supervisor_neither_reads_nor_sets(t):
    month = this_month()
    t.put(t.supervisor, t.body(month))
    t.get(t.their_supervisor, team_id=t.team.id, status=403)
    t.put(t.their_supervisor, t.body(month), status=403)
    # Their own team shows nothing of ours.
    theirs = t.get(t.their_supervisor, month=month_text(month))
    assert theirs["team_id"] == t.other.id and theirs["collectors"] == []
    # An admin may set any team's.
    body = t.put(t.admin, {"month": month_text(month), "team_id": t.other.id,
                           "collectors": [{"collector_id": t.their_collector.id, "visits": 5}]})
    assert body["collectors"][0]["visits"] == 5
    assert stored() == 4


def error_fields(response_body) -> set:
    return set(response_body["error"]["fields"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b, t: b.update(month="2020-01"), "month"),
        (lambda b, t: b.update(month="2026-13"), "month"),
        (lambda b, t: b.update(month="2026-1"), "month"),
        (lambda b, t: b.pop("month"), "month"),
        (lambda b, t: b.pop("team_id"), "team_id"),
        (lambda b, t: b.update(team_id=2**31 - 1), "team_id"),
        (lambda b, t: b["team"].update(m1_fen=-1), "team.m1_fen"),
        (lambda b, t: b["team"].update(recovered_fen=1.5), "team.recovered_fen"),
        (lambda b, t: b["team"].update(m2_account_share_bp=10_001), "team.m2_account_share_bp"),
        (lambda b, t: b["collectors"][1].update(visits=-3), "collectors.1.visits"),
        (lambda b, t: b["collectors"][0].update(m3_plus_fen=-100), "collectors.0.m3_plus_fen"),
        (lambda b, t: b["collectors"][0].pop("collector_id"), "collectors.0.collector_id"),
        (lambda b, t: b["collectors"][1].update(collector_id=t.their_collector.id),
         "collectors.1.collector_id"),
        (lambda b, t: b["collectors"][1].update(collector_id=t.supervisor.id),
         "collectors.1.collector_id"),
        (lambda b, t: b["collectors"][1].update(collector_id=t.ann.id),
         "collectors.1.collector_id"),
        (lambda b, t: b.update(colour="red"), "colour"),
    ],
    ids=["past", "month-13", "short-month", "no-month", "no-team", "no-such-team",
         "negative", "fraction", "share-above-100%", "negative-visits", "negative-m3",
         "no-collector-id", "their-collector", "not-a-collector", "twice", "unknown"],
)
def test_bad_targets_name_the_field_and_save_nothing(t, change, field):
    month = this_month()
    t.put(t.admin, t.body(month))
    before = t.get(t.admin, team_id=t.team.id, month=month_text(month))
    body = t.body(next_month(month))
    body["team"]["recovered_fen"] = 1
    change(body, t)
    answer = t.put(t.admin, body, status=422)
    assert error_fields(answer) == {field}
    assert t.get(t.admin, team_id=t.team.id, month=month_text(month)) == before
    assert stored() == 3


def test_the_past_is_judged_in_the_teams_time_zone(t, world):
    """"This month" is the team's: on UTC+14 a month begins up to a day before it does in
    Shanghai, and from then on the month before is past for that team."""
    zone = "Pacific/Kiritimati"  # UTC+14: the first place a month begins
    far = world.team()
    far.timezone = zone
    db.session.commit()
    current = this_month(zone)
    body = {"month": month_text(current), "team_id": far.id}
    assert t.put(t.admin, body)["month"] == month_text(current)
    previous = (current - timedelta(days=1)).replace(day=1)
    answer = t.put(t.admin, {"month": month_text(previous), "team_id": far.id}, status=422)
    assert error_fields(answer) == {"month"}
