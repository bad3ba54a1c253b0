"""Progress against targets for a team and its collectors, as of a stated time.

Every figure comes from a handful of set-based queries (GROUP BY collector), whatever the
team's size: the cases' buckets at the start of the month first go into a temporary table in
one INSERT ... SELECT, then one query each for money, M2 accounts, promises and visits. The
rules, in the trade's terms:

* **Periods** are the team's local calendar (`Team.timezone`): a month, a week (Monday to
  Sunday, clipped to the month) or a day. Targets split by `targets.Period.share`.
* **As of.** Field records count when they happened *and* reached the server by `as_of`
  (`received_at`), so a figure read again later for the same `as_of` is the same figure.
  Imported payments carry only a date: those dated up to `as_of`'s local day count.
* **Recovered** = imported payments + field receipts, without counting the same money twice.
  A payment is the lender's record of a field receipt when it is on the same case and its
  reference is the receipt number, or it has the same amount and is dated on the receipt's
  local day or up to 7 days after. Such a payment is left out: the receipt counts, on the day
  the money was taken, so a month's figure does not move when the lender's file arrives.
  Over a case's life, recovered = the case file's `paid_fen` + receipts the lender has not
  yet reported. (Two same-amount payments in the week after one receipt are both taken as
  that receipt: a rare undercount that a receipt number in the lender's file avoids; never a
  double count.)
* **Bucket** of a recovery is the case's bucket at the start of the month: its loan figures
  (`api.services.casefile.loan_figures`) as of the last day of the previous month, from the
  schedule and the payments dated up to then (FIFO, as the case file computes them). A case
  with no schedule keeps its current bucket. A recovery never moves to the bucket it earns.
* **Attribution.** Every event goes to the team and collector who held the case at that
  moment (the assignment history): a receipt at `paid_at`, a promise at `signed_at`, a visit
  at `started_at`, a payment at the end of its day (or `as_of`, if earlier). Money on a case
  the team held without a collector is the team's (`unassigned`).
* **M2 account share** = of the cases held at `as_of` whose bucket at the start of the month
  was M2, the share with any recovered money in the period.
* **Promises**: made = signed in the period; kept rate = kept / (kept + partly kept + broken)
  over the promises whose first due date falls in the period up to `as_of`'s day, judged as the
  last payment import judged them (`promise_status`); pending ones are not counted.
* **Visits**: reports started in the period, less those a correction received by `as_of`
  supersedes. Geofence compliance = share without `far_from_address`; visit-hour compliance =
  share without `outside_visit_hours` (`api.models.vocabulary.FLAGS`).
* **Pace**: the target's share of the working days up to and including `as_of`'s local day;
  `on_track` when the actual figure has reached it, else `behind`.

Rates are basis points (10000 = 100%), rounded half up; money is fen."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from api.models import (
    Assignment,
    Case,
    FieldReceipt,
    Instalment,
    Payment,
    PromiseStatus,
    RepaymentPromise,
    Role,
    User,
    VisitReport,
)
from api.models.targets import MEASURES
from api.models.types import UTCDateTime, utcnow
from api.services.exceptions import InvalidInput
from api.services.identity.accounts import Principal
from api.services.supervision.targets import (
    Period,
    collector_scope,
    load_targets,
    local_midnight,
    team_for,
    team_measures,
)

BUCKETS = ("current", "M1", "M2", "M3", "M3+")
RECEIPT_MATCH_DAYS = 7
CLOCK_SKEW = timedelta(minutes=5)  # an `as_of` this far ahead of the server clock is "now"
FAR, OUTSIDE_HOURS = "far_from_address", "outside_visit_hours"


@dataclass(frozen=True)
class Window:
    """What a progress query covers: the team, the period and the moment of the answer."""

    team_id: int
    zone: ZoneInfo
    period: Period
    as_of: datetime
    collector_id: int | None = None

    @property
    def starts(self) -> datetime:
        return local_midnight(self.period.first, self.zone)

    @property
    def ends(self) -> datetime:
        return local_midnight(self.period.last + timedelta(days=1), self.zone)

    @property
    def as_of_day(self) -> date:
        return self.as_of.astimezone(self.zone).date()

    @property
    def last_paid_day(self) -> date:
        """The last day whose imported payments count (may precede the period: none count)."""
        return min(self.period.last, self.as_of_day)


# --- the entry point ------------------------------------------------------------------------


def team_progress(
    session: Session,
    principal: Principal,
    *,
    team_id: int | None,
    period: str = "month",
    month: date | None = None,
    day: date | None = None,
    as_of: datetime | None = None,
    collector_id: int | None = None,
) -> dict:
    """Progress of a team and its collectors (a collector: their own only); see the module
    docstring for every rule."""
    team = team_for(session, principal, team_id)
    collector_id = collector_scope(principal, collector_id)
    if collector_id is not None and principal.role is not Role.COLLECTOR:
        member = session.get(User, collector_id)
        if member is None or member.role is not Role.COLLECTOR or member.team_id != team.id:
            raise InvalidInput("Name a collector of the team.",
                               fields={"collector_id": [f"not a collector of team {team.id}"]})
    zone = ZoneInfo(team.timezone)
    now = utcnow()
    if as_of is None:
        as_of = now
    elif as_of > now + CLOCK_SKEW:
        raise InvalidInput("Progress cannot be read ahead of time.",
                           fields={"as_of": ["in the future"]})
    as_of = min(as_of, now).astimezone(UTC)
    window = Window(team.id, zone, _period(period, month, day, as_of.astimezone(zone).date()),
                    as_of, collector_id)
    figures = collect(session, window)
    rows = load_targets(session, team.id, window.period.month)
    targets = {r.collector_id: {m: getattr(r, m) for m in MEASURES} for r in rows}
    team_targets, derived = team_measures(rows)

    members = set(session.scalars(select(User.id).where(
        User.team_id == team.id, User.role == Role.COLLECTOR, User.is_active.is_(True))))
    ids = (members | {c for c in figures if c is not None}
           | {c for c in targets if c is not None})
    if collector_id is not None:
        ids = {collector_id}
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())
    collectors = [
        {"collector_id": cid, "name": names.get(cid),
         **progress_view(figures.get(cid, Figures()), targets.get(cid), window)}
        for cid in sorted(ids)
    ]
    team_view = unassigned = None
    if collector_id is None:
        total = Figures()
        for one in figures.values():
            total.add(one)
        team_view = {**progress_view(total, team_targets, window), "targets_derived": derived}
        unassigned = figures_view(figures.get(None, Figures()))
    p = window.period
    return {
        "team_id": team.id,
        "team_name": team.name,
        "timezone": team.timezone,
        "month": p.month,
        "period": p.kind,
        "first_day": p.first,
        "last_day": p.last,
        "as_of": as_of,
        "working_days": p.working_days(),
        "working_days_elapsed": p.working_days_elapsed(window.as_of_day),
        "team": team_view,
        "unassigned": unassigned,
        "collectors": collectors,
    }


def _period(kind: str, month: date | None, day: date | None, today: date) -> Period:
    if kind == "month":
        if day is not None:
            raise InvalidInput("A month is chosen by `month`.",
                               fields={"date": ["only with period=week or period=day"]})
        return Period.of("month", month or today.replace(day=1))
    if month is not None:
        raise InvalidInput("A week or a day is chosen by `date`.",
                           fields={"month": ["only with period=month"]})
    return Period.of(kind, day or today)


# --- figures --------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one collector (or the team without a collector) did in the period."""

    payments_fen: int = 0
    receipts_fen: int = 0
    by_bucket: dict | None = None
    m2_held: int = 0
    m2_paid: int = 0
    promises_made: int = 0
    promised_fen: int = 0
    due: dict | None = None  # promise status -> count, of the promises due in the period
    visits: int = 0
    far: int = 0
    outside_hours: int = 0

    def __post_init__(self):
        self.by_bucket = self.by_bucket or dict.fromkeys(BUCKETS, 0)
        self.due = self.due or {s.value: 0 for s in PromiseStatus}

    def add(self, other: Figures) -> None:
        for name in ("payments_fen", "receipts_fen", "m2_held", "m2_paid", "promises_made",
                     "promised_fen", "visits", "far", "outside_hours"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for bucket, amount in other.by_bucket.items():
            self.by_bucket[bucket] += amount
        for status, count in other.due.items():
            self.due[status] += count


def collect(session: Session, w: Window) -> dict[int | None, Figures]:
    """Figures by collector id (None: held by the team without a collector)."""
    out: dict[int | None, Figures] = defaultdict(Figures)
    if w.as_of < w.starts:  # nothing of the period has happened yet
        return out
    opening = fill_opening(session, w)
    for collector_id, bucket, source, amount in session.execute(money_query(w, opening)):
        f = out[collector_id]
        f.by_bucket[bucket] += amount
        if source == "payment":
            f.payments_fen += amount
        else:
            f.receipts_fen += amount
    for collector_id, held, paid in session.execute(m2_query(w, opening)):
        out[collector_id].m2_held, out[collector_id].m2_paid = held, paid or 0
    for row in session.execute(promises_query(w)):
        f = out[row.collector_id]
        f.promises_made, f.promised_fen = row.made or 0, row.promised_fen or 0
        f.due = {s.value: getattr(row, s.value) or 0 for s in PromiseStatus}
    for collector_id, visits, far, outside in session.execute(visits_query(w)):
        f = out[collector_id]
        f.visits, f.far, f.outside_hours = visits, far or 0, outside or 0
    return out


def _held_at(a, moment):
    """The assignment row `a` was open at `moment`."""
    return and_(a.started_at <= moment, or_(a.ended_at.is_(None), a.ended_at > moment))


def _holder(w: Window, a, case_id, moment):
    """Join condition: `a` is the team's assignment of the case open at `moment`. The team and
    collector are filters, never the way in (`+ 0` keeps them off their indexes): otherwise
    SQLite, without statistics, may walk the team's whole assignment list for every event
    instead of looking the case up."""
    cond = and_(a.case_id == case_id, a.team_id + 0 == w.team_id, _held_at(a, moment))
    return and_(cond, a.collector_id + 0 == w.collector_id) if w.collector_id else cond


# Each case the team held in the period with its bucket at the start of the month, worked out
# once per request into a temporary table: the queries that join it get a keyed lookup, and
# both engines' planners stay predictable. PostgreSQL empties it at commit; SQLite keeps it
# with the connection, so it is emptied before use as well.
OPENING = Table("progress_opening", MetaData(),
                Column("case_id", BigInteger, primary_key=True, autoincrement=False),
                Column("bucket", String(8), nullable=False),
                prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")


def fill_opening(session: Session, w: Window) -> Table:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Compiling these one-off statements costs more than running them.
        connection.execute(text("SET LOCAL jit = off"))
    OPENING.create(connection, checkfirst=True)
    connection.execute(OPENING.delete())
    connection.execute(OPENING.insert().from_select(["case_id", "bucket"], opening_buckets(w)))
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE progress_opening"))  # a temporary table has no stats
    return OPENING


def opening_buckets(w: Window):
    """Select (case_id, bucket): the team's cases of the period and their bucket at the start
    of the month, from the loan figures as of `eve`, the last day of the previous month.

    FIFO, an instalment is paid once the payments cover the running total up to it, and due
    dates rise with `seq` (the case file refuses a schedule where they do not). So the oldest
    unpaid instalment fell due on or after day X exactly when the payments up to `eve` cover
    every instalment due before X: one GROUP BY compares what was paid with what was due
    before `eve`, `eve`−30, −60 and −90 days, with no running totals."""
    eve = w.period.month - timedelta(days=1)
    held = select(Assignment.case_id).where(
        Assignment.team_id == w.team_id, Assignment.started_at <= w.as_of,
        or_(Assignment.ended_at.is_(None), Assignment.ended_at > w.starts))
    if w.collector_id:
        held = held.where(Assignment.collector_id == w.collector_id)
    held = held.distinct().cte("held")
    zero, no_day = literal(0, BigInteger), literal(None, Date)
    # Every case once (so each appears), its payments up to `eve`, its instalments due before.
    stream = union_all(
        select(held.c.case_id, zero.label("paid_fen"), no_day.label("due_on"),
               zero.label("due_fen")),
        select(Payment.case_id, Payment.amount_fen, no_day, zero)
        .join(held, held.c.case_id == Payment.case_id).where(Payment.paid_on <= eve),
        select(Instalment.case_id, zero, Instalment.due_on, Instalment.amount_fen)
        .join(held, held.c.case_id == Instalment.case_id).where(Instalment.due_on < eve),
    ).subquery("stream")
    paid = func.sum(stream.c.paid_fen)

    def covered(days: int):
        """Every instalment due more than `days` days before `eve` is paid."""
        due = func.sum(case((stream.c.due_on < eve - timedelta(days=days), stream.c.due_fen),
                            else_=0))
        return paid >= due

    # Nothing due before the month: current; with no schedule at all, the case's own bucket.
    nothing_due = case(
        (exists().where(Instalment.case_id == stream.c.case_id), "current"),
        else_=select(type_coerce(Case.bucket, String)).where(Case.id == stream.c.case_id)
        .scalar_subquery())
    bucket = case(
        (func.count(stream.c.due_on) == 0, nothing_due),
        (covered(0), "current"),
        (covered(30), "M1"),
        (covered(60), "M2"),
        (covered(90), "M3"),
        else_="M3+")
    return select(stream.c.case_id, bucket).group_by(stream.c.case_id)


def _days(w: Window):
    """CTE of the period's days whose payments count: the day, the moment its payments are
    attributed at (its end, or `as_of`), and the earliest a receipt it posts could be taken."""
    selects = []
    day = w.period.first
    while day <= w.last_paid_day:
        ends = local_midnight(day + timedelta(days=1), w.zone) - timedelta(microseconds=1)
        selects.append(select(
            literal(day, Date).label("day"),
            literal(min(ends, w.as_of), UTCDateTime).label("attributed_at"),
            literal(local_midnight(day - timedelta(days=RECEIPT_MATCH_DAYS), w.zone),
                    UTCDateTime).label("receipts_from")))
        day += timedelta(days=1)
    return union_all(*selects).cte("days") if len(selects) > 1 else selects[0].cte("days")


def money_query(w: Window, opening):
    """Rows (collector_id, bucket, source, amount) summed over the period's recoveries."""
    a = aliased(Assignment)
    known_receipt = and_(FieldReceipt.paid_at <= w.as_of, FieldReceipt.received_at <= w.as_of)
    receipts = (select(FieldReceipt.case_id, FieldReceipt.amount_fen.label("amount"),
                       literal("receipt").label("source"), a.collector_id)
                .join(a, _holder(w, a, FieldReceipt.case_id, FieldReceipt.paid_at))
                .where(known_receipt, FieldReceipt.paid_at >= w.starts,
                       FieldReceipt.paid_at < w.ends))
    parts = [receipts]
    if w.last_paid_day >= w.period.first:
        days = _days(w)
        pa = aliased(Assignment)
        posts_a_receipt = exists().where(
            FieldReceipt.case_id == Payment.case_id, known_receipt,
            or_(FieldReceipt.receipt_no == Payment.lender_ref,
                and_(FieldReceipt.amount_fen == Payment.amount_fen,
                     FieldReceipt.paid_at >= days.c.receipts_from,
                     FieldReceipt.paid_at <= days.c.attributed_at)))
        parts.append(
            select(Payment.case_id, Payment.amount_fen.label("amount"),
                   literal("payment").label("source"), pa.collector_id)
            .join(days, Payment.paid_on == days.c.day)
            .join(pa, _holder(w, pa, Payment.case_id, days.c.attributed_at))
            .where(~posts_a_receipt))
    money = union_all(*parts).subquery("money")
    return (select(money.c.collector_id, opening.c.bucket, money.c.source,
                   func.sum(money.c.amount))
            .join(opening, opening.c.case_id == money.c.case_id)
            .group_by(money.c.collector_id, opening.c.bucket, money.c.source))


def m2_query(w: Window, opening):
    """Rows (collector_id, M2 accounts held at `as_of`, how many of them paid in the period)."""
    a = aliased(Assignment)
    paid = or_(
        exists().where(Payment.case_id == a.case_id, Payment.paid_on >= w.period.first,
                       Payment.paid_on <= w.last_paid_day),
        exists().where(FieldReceipt.case_id == a.case_id, FieldReceipt.paid_at >= w.starts,
                       FieldReceipt.paid_at < w.ends, FieldReceipt.paid_at <= w.as_of,
                       FieldReceipt.received_at <= w.as_of))
    return (select(a.collector_id, func.count(), func.sum(case((paid, 1), else_=0)))
            .join(opening, opening.c.case_id == a.case_id)
            .where(_holder(w, a, a.case_id, w.as_of), opening.c.bucket == "M2")
            .group_by(a.collector_id))


def promises_query(w: Window):
    a = aliased(Assignment)
    p = RepaymentPromise
    made = and_(p.signed_at >= w.starts, p.signed_at < w.ends, p.signed_at <= w.as_of)
    due = and_(p.first_due_on >= w.period.first, p.first_due_on <= w.last_paid_day)
    by_status = [func.sum(case((and_(due, p.status == s), 1), else_=0)).label(s.value)
                 for s in PromiseStatus]
    return (select(a.collector_id, func.sum(case((made, 1), else_=0)).label("made"),
                   func.sum(case((made, p.total_fen), else_=0)).label("promised_fen"), *by_status)
            .join(a, _holder(w, a, p.case_id, p.signed_at))
            .where(p.received_at <= w.as_of, p.signed_at <= w.as_of, or_(made, due))
            .group_by(a.collector_id))


def visits_query(w: Window):
    a = aliased(Assignment)
    v, later = VisitReport, aliased(VisitReport)
    superseded = exists().where(later.supersedes_id == v.id, later.received_at <= w.as_of)

    def flagged(flag: str):
        return func.sum(case((v.flags.like(f'%"{flag}"%'), 1), else_=0))

    return (select(a.collector_id, func.count(), flagged(FAR), flagged(OUTSIDE_HOURS))
            .join(a, _holder(w, a, v.case_id, v.started_at))
            .where(v.started_at >= w.starts, v.started_at < w.ends, v.started_at <= w.as_of,
                   v.received_at <= w.as_of, ~superseded)
            .group_by(a.collector_id))


# --- views ----------------------------------------------------------------------------------


def ratio_bp(part: int, whole: int) -> int | None:
    """part/whole in basis points, rounded half up; None when there is no whole."""
    if not whole:
        return None
    return (part * 20000 + whole) // (2 * whole)


def figures_view(f: Figures) -> dict:
    judged = f.due["kept"] + f.due["partly_kept"] + f.due["broken"]
    return {
        "recovered": {
            "total_fen": f.payments_fen + f.receipts_fen,
            "payments_fen": f.payments_fen,
            "field_receipts_fen": f.receipts_fen,
            "by_bucket": dict(f.by_bucket),
        },
        "m2_accounts": {"held": f.m2_held, "paid": f.m2_paid,
                        "share_bp": ratio_bp(f.m2_paid, f.m2_held)},
        "promises": {"made": f.promises_made, "promised_fen": f.promised_fen,
                     "due": sum(f.due.values()), **f.due,
                     "kept_rate_bp": ratio_bp(f.due["kept"], judged)},
        "visits": {
            "count": f.visits,
            "far_from_address": f.far,
            "outside_visit_hours": f.outside_hours,
            "geofence_compliance_bp": ratio_bp(f.visits - f.far, f.visits),
            "visit_hour_compliance_bp": ratio_bp(f.visits - f.outside_hours, f.visits),
        },
    }


def actuals(view: dict) -> dict:
    """The actual figure each target measure is compared with."""
    by_bucket = view["recovered"]["by_bucket"]
    return {
        "recovered_fen": view["recovered"]["total_fen"],
        "m1_fen": by_bucket["M1"],
        "m2_fen": by_bucket["M2"],
        "m3_plus_fen": by_bucket["M3"] + by_bucket["M3+"],
        "m2_account_share_bp": view["m2_accounts"]["share_bp"],
        "visits": view["visits"]["count"],
    }


def progress_view(f: Figures, targets: dict | None, w: Window) -> dict:
    view = figures_view(f)
    actual = actuals(view)
    against = {}
    for measure in MEASURES:
        monthly = (targets or {}).get(measure)
        target = expected = achieved = pace = None
        if monthly is not None:
            target = w.period.share(monthly)
            expected = w.period.share(monthly, through=w.as_of_day)
            achieved = ratio_bp(actual[measure] or 0, target)
            if actual[measure] is not None:
                pace = "on_track" if actual[measure] >= expected else "behind"
        against[measure] = {"actual": actual[measure], "target": target, "expected": expected,
                            "achieved_bp": achieved, "pace": pace}
    return {**view, "against_target": against}
