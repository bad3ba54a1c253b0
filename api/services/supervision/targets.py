"""Monthly targets for a team and its collectors, and how a month splits into weeks and days.

The split rule: a month's target is spread evenly over its **working days, Monday to
Saturday** (Sundays carry no target; public holidays are not known to the system). The k-th
working day of N gets `floor(T·k/N) − floor(T·(k−1)/N)` of a target T, so the days (and the
weeks, which are sums of days) add up to the month exactly, to the fen. A week is Monday to
Sunday, clipped to the month: the week of 30 November–6 December is two periods, one in each
month. Only the month is stored; no weekly or daily overrides.

Who may do what: supervisors set and read their own team's targets, administrators any team's;
collectors read their own targets only; legal staff neither."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import Role, Target, Team, User
from api.models.targets import MEASURES
from api.models.types import utcnow
from api.services.exceptions import Forbidden, InvalidInput
from api.services.identity.accounts import Principal

AMOUNTS = ("recovered_fen", "m1_fen", "m2_fen", "m3_plus_fen", "visits")
SUNDAY = 6


# --- calendar -------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def working_days(first: date, last: date) -> int:
    """Working days (Monday to Saturday) from `first` to `last`, both included."""
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    extra = sum(1 for i in range(rest) if (first.weekday() + i) % 7 != SUNDAY)
    return weeks * 6 + extra


@dataclass(frozen=True)
class Period:
    """A month, or a week or day inside one (inclusive days, local to the team)."""

    kind: str  # "month" | "week" | "day"
    month: date  # first day of the month the period lies in
    first: date
    last: date

    @classmethod
    def of(cls, kind: str, day: date) -> Period:
        first_of_month = month_start(day)
        if kind == "month":
            return cls(kind, first_of_month, first_of_month, month_end(first_of_month))
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls(kind, first_of_month, max(monday, first_of_month),
                       min(monday + timedelta(days=6), month_end(first_of_month)))
        return cls("day", first_of_month, day, day)

    def share(self, target: int, through: date | None = None) -> int:
        """The part of a monthly target that falls on this period (up to `through`, inclusive,
        when given: the pace expected by then)."""
        total = working_days(self.month, month_end(self.month))
        before = working_days(self.month, self.first - timedelta(days=1))
        last = self.last if through is None else min(through, self.last)
        upto = max(before, working_days(self.month, last))
        return target * upto // total - target * before // total

    def working_days(self) -> int:
        return working_days(self.first, self.last)

    def working_days_elapsed(self, through: date) -> int:
        return working_days(self.first, min(through, self.last))


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day starts."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


# --- who may see which team -----------------------------------------------------------------


def team_for(session: Session, principal: Principal, team_id: int | None) -> Team:
    """The team a supervisor, collector or admin asks about (their own when not named).
    Another team's id is refused before anything is looked up, so nothing leaks."""
    if principal.role is Role.LEGAL:
        raise Forbidden("Targets and progress are for supervisors, collectors and admins.")
    if team_id is None:
        team_id = principal.team_id
        if team_id is None:
            raise InvalidInput("Name the team.", fields={"team_id": ["required"]})
    if principal.role is not Role.ADMIN and team_id != principal.team_id:
        raise Forbidden("You may only see your own team's targets and progress.")
    team = session.get(Team, team_id)
    if team is None:
        raise InvalidInput("No such team.", fields={"team_id": ["no such team"]})
    return team


def collector_scope(principal: Principal, collector_id: int | None) -> int | None:
    """The one collector a request is narrowed to: a collector is always narrowed to self."""
    if principal.role is Role.COLLECTOR:
        if collector_id not in (None, principal.user_id):
            raise Forbidden("Collectors see only their own targets and progress.")
        return principal.user_id
    return collector_id


def current_month(team: Team, now: datetime | None = None) -> date:
    return month_start((now or utcnow()).astimezone(ZoneInfo(team.timezone)).date())


# --- setting and reading --------------------------------------------------------------------


def set_month_targets(session: Session, principal: Principal, data: dict) -> dict:
    """Replace every target of the team for the month with those given (the team's own row
    and one per collector); what is not given is removed. Returns the month as `month_targets`
    would."""
    if principal.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Only supervisors and administrators set targets.")
    team = team_for(session, principal, data["team_id"])
    month = data["month"]
    if month < current_month(team):
        raise InvalidInput(
            f"{month:%Y-%m} is in the past in the team's time zone ({team.timezone}).",
            fields={"month": ["in the past"]},
        )
    rows = _checked_collectors(session, team, data.get("collectors") or [])
    session.execute(delete(Target).where(Target.team_id == team.id, Target.month == month))
    now = utcnow()
    entries = ([(None, data["team"])] if data.get("team") else []) + rows
    for collector_id, measures in entries:
        session.add(Target(month=month, team_id=team.id, collector_id=collector_id,
                           set_by_id=principal.user_id, set_at=now,
                           **{m: measures.get(m) for m in MEASURES}))
    session.flush()
    return month_targets(session, principal, team.id, month)


def _checked_collectors(session: Session, team: Team, given: list[dict]) -> list[tuple]:
    ids = [entry["collector_id"] for entry in given]
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for index, collector_id in enumerate(ids):
        user = users.get(collector_id)
        name = f"collectors.{index}.collector_id"
        if collector_id in seen:
            errors[name] = ["given twice"]
        elif user is None or user.role is not Role.COLLECTOR:
            errors[name] = ["not a collector"]
        elif user.team_id != team.id:
            errors[name] = [f"not a collector of team {team.id}"]
        seen.add(collector_id)
    if errors:
        raise InvalidInput("Targets are for the team's own collectors.", fields=errors)
    return [(entry["collector_id"], entry) for entry in given]


def month_targets(
    session: Session,
    principal: Principal,
    team_id: int | None,
    month: date | None,
    collector_id: int | None = None,
) -> dict:
    """A month's targets for a team: its own row (or, with none set, the sum of its
    collectors' amounts, marked `derived`) and each collector's, with the weekly and daily
    splits. A collector sees only their own row."""
    team = team_for(session, principal, team_id)
    collector_id = collector_scope(principal, collector_id)
    month = month or current_month(team)
    rows = load_targets(session, team.id, month)
    names = dict(session.execute(
        select(User.id, User.full_name).where(User.id.in_([r.collector_id for r in rows
                                                            if r.collector_id]))).all())
    collectors = [target_view(r, month, names.get(r.collector_id)) for r in rows
                  if r.collector_id is not None
                  and (collector_id is None or r.collector_id == collector_id)]
    team_row = None
    if principal.role is not Role.COLLECTOR and collector_id is None:
        team_row = team_view(rows, month)
    return {
        "team_id": team.id,
        "month": month,
        "timezone": team.timezone,
        "working_days": working_days(month, month_end(month)),
        "team": team_row,
        "collectors": collectors,
    }


def load_targets(session: Session, team_id: int, month: date) -> list[Target]:
    return list(session.scalars(
        select(Target).where(Target.team_id == team_id, Target.month == month)
        .order_by(Target.collector_id.is_not(None), Target.collector_id)))


def team_measures(rows: list[Target]) -> tuple[dict, bool]:
    """The team's own measures, or (no team row) the sum of its collectors' amounts."""
    own = next((r for r in rows if r.collector_id is None), None)
    if own is not None:
        return {m: getattr(own, m) for m in MEASURES}, False
    collectors = [r for r in rows if r.collector_id is not None]
    summed: dict = {m: None for m in MEASURES}
    for m in AMOUNTS:
        values = [getattr(r, m) for r in collectors if getattr(r, m) is not None]
        summed[m] = sum(values) if values else None
    return summed, True


def team_view(rows: list[Target], month: date) -> dict | None:
    measures, derived = team_measures(rows)
    if all(v is None for v in measures.values()):
        return None
    own = next((r for r in rows if r.collector_id is None), None)
    return {**_measures_view(measures, month), "derived": derived,
            "set_by_id": own.set_by_id if own else None, "set_at": own.set_at if own else None}


def target_view(row: Target, month: date, name: str | None) -> dict:
    return {"collector_id": row.collector_id, "name": name,
            **_measures_view({m: getattr(row, m) for m in MEASURES}, month),
            "set_by_id": row.set_by_id, "set_at": row.set_at}


def _measures_view(measures: dict, month: date) -> dict:
    """The month's measures and their split into weeks and days."""
    weeks, day = [], month
    last = month_end(month)
    while day <= last:
        week = Period.of("week", day)
        weeks.append({"first_day": week.first, "last_day": week.last,
                      "working_days": week.working_days(),
                      **{m: None if v is None else week.share(v) for m, v in measures.items()}})
        day = week.last + timedelta(days=1)
    # A working day's share, rounded down: the remainders fall on later days (exact figures
    # for one day come with progress for `period=day`).
    daily = {m: None if v is None else v // working_days(month, last) for m, v in measures.items()}
    return {**measures, "weekly": weeks, "daily": daily}
