"""Targets (set, read), progress against them, and the leaderboard."""

import re
from datetime import date

import marshmallow as ma

from api.extensions import Schema
from schemas.common import YEARS, in_years

MAX_ID = 2**31 - 1
MAX_FEN = 10**15  # ten trillion yuan: far above any team's month, well inside 64 bits
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
BP = "basis points, 10000 = 100%"


class MonthField(ma.fields.String):
    """A calendar month as `YYYY-MM`; loaded as the date of its first day."""

    def __init__(self, **kwargs):
        metadata = {"pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2026-12",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        found = MONTH.fullmatch(text)
        if not found or not YEARS[0] <= int(found[1]) <= YEARS[1]:
            raise ma.ValidationError(f"must be a month YYYY-MM, {YEARS[0]} to {YEARS[1]}")
        return date(int(found[1]), int(found[2]), 1)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{value:%Y-%m}"


def row_id(description: str, **kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID),
                             metadata={"description": description}, **kwargs)


def amount(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        strict=True, allow_none=True, load_default=None,
        validate=ma.validate.Range(min=0, max=MAX_FEN),
        metadata={"description": f"{description}, fen; null: no target", "example": 50_000_000})


# --- setting and reading targets ------------------------------------------------------------


class MeasuresSchema(Schema):
    """A month's targets; any may be null (no target for that measure)."""

    recovered_fen = amount("money recovered from cases of every bucket")
    m1_fen = amount("money recovered from cases in M1 at the start of the month")
    m2_fen = amount("money recovered from cases in M2 at the start of the month")
    m3_plus_fen = amount("money recovered from cases in M3 or M3+ at the start of the month")
    m2_account_share_bp = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None,
        validate=ma.validate.Range(min=0, max=10_000),
        metadata={"description": f"share of the M2 accounts held that pay something, {BP}",
                  "example": 4000})
    visits = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None,
        validate=ma.validate.Range(min=0, max=1_000_000),
        metadata={"description": "visit reports filed", "example": 120})


class CollectorTargetInSchema(MeasuresSchema):
    collector_id = row_id("a collector of the team", required=True)


class SetTargetsSchema(Schema):
    month = MonthField(required=True, metadata={"description": "this month or a later one, "
                                                "in the team's time zone"})
    team_id = row_id("the team (supervisors: their own)", required=True)
    team = ma.fields.Nested(MeasuresSchema, allow_none=True, load_default=None,
                            metadata={"description": "the team's own targets; null: none (the "
                                      "team's figure is then the sum of its collectors')"})
    collectors = ma.fields.List(ma.fields.Nested(CollectorTargetInSchema), load_default=list,
                                validate=ma.validate.Length(max=500))


class TargetsQuerySchema(Schema):
    month = MonthField(metadata={"description": "default: the team's current month"})
    team_id = row_id("default: your own team")
    collector_id = row_id("one collector's targets only (collectors: always their own)")


class MeasuresOutSchema(Schema):
    recovered_fen = ma.fields.Integer(allow_none=True)
    m1_fen = ma.fields.Integer(allow_none=True)
    m2_fen = ma.fields.Integer(allow_none=True)
    m3_plus_fen = ma.fields.Integer(allow_none=True)
    m2_account_share_bp = ma.fields.Integer(allow_none=True)
    visits = ma.fields.Integer(allow_none=True)


class WeekTargetSchema(MeasuresOutSchema):
    first_day = ma.fields.Date()
    last_day = ma.fields.Date()
    working_days = ma.fields.Integer()


class SplitTargetSchema(MeasuresOutSchema):
    weekly = ma.fields.List(ma.fields.Nested(WeekTargetSchema), metadata={
        "description": "Monday-to-Sunday weeks clipped to the month, each its working days' "
                       "share; they add up to the month exactly"})
    daily = ma.fields.Nested(MeasuresOutSchema, metadata={
        "description": "one working day's share, rounded down (remainders fall on later days)"})
    set_by_id = ma.fields.Integer(allow_none=True)
    set_at = ma.fields.AwareDateTime(allow_none=True)


class TeamTargetSchema(SplitTargetSchema):
    derived = ma.fields.Boolean(metadata={
        "description": "no team target was set: the amounts are the sum of the collectors'"})


class CollectorTargetSchema(SplitTargetSchema):
    collector_id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)


class TargetsSchema(Schema):
    team_id = ma.fields.Integer()
    month = MonthField()
    timezone = ma.fields.String()
    working_days = ma.fields.Integer(metadata={"description": "Monday to Saturday"})
    team = ma.fields.Nested(TeamTargetSchema, allow_none=True,
                            metadata={"description": "null for collectors, or when none set"})
    collectors = ma.fields.List(ma.fields.Nested(CollectorTargetSchema))


# --- progress ------------------------------------------------------------------------------


class LeaderboardQuerySchema(Schema):
    team_id = row_id("default: your own team")
    period = ma.fields.String(load_default="month",
                              validate=ma.validate.OneOf(["month", "week", "day"]))
    month = MonthField(metadata={"description": "with period=month; default: the month of "
                                 "`as_of` in the team's time zone"})
    day = ma.fields.Date(data_key="date", validate=in_years, metadata={
        "description": "with period=week or day: a day of the week, or the day; default: the "
                       "day of `as_of` in the team's time zone"})
    as_of = ma.fields.AwareDateTime(validate=in_years, metadata={
        "description": "figures as they stood at this moment (default: now)",
        "example": "2026-12-15T18:00:00+08:00"})


class ProgressQuerySchema(LeaderboardQuerySchema):
    collector_id = row_id("one collector only (collectors: always their own)")


class RecoveredSchema(Schema):
    total_fen = ma.fields.Integer(metadata={"description": "payments_fen + field_receipts_fen"})
    payments_fen = ma.fields.Integer(metadata={
        "description": "imported payments, less those that post a field receipt"})
    field_receipts_fen = ma.fields.Integer(metadata={"description": "money taken in the field"})
    by_bucket = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "by the case's bucket at the start of the month: current, M1, M2, M3, "
                       "M3+", "example": {"current": 0, "M1": 120000, "M2": 50000, "M3": 0,
                                          "M3+": 0}})


class M2AccountsSchema(Schema):
    held = ma.fields.Integer(metadata={"description": "cases held at `as_of` that were M2 at "
                                       "the start of the month"})
    paid = ma.fields.Integer(metadata={"description": "of those, with money in the period"})
    share_bp = ma.fields.Integer(allow_none=True, metadata={"description": BP})


class PromiseFiguresSchema(Schema):
    made = ma.fields.Integer(metadata={"description": "promises signed in the period"})
    promised_fen = ma.fields.Integer(metadata={"description": "their total"})
    due = ma.fields.Integer(metadata={
        "description": "promises whose first due date is in the period, up to `as_of`'s day"})
    pending = ma.fields.Integer()
    kept = ma.fields.Integer()
    partly_kept = ma.fields.Integer()
    broken = ma.fields.Integer()
    kept_rate_bp = ma.fields.Integer(allow_none=True, metadata={
        "description": f"kept / (kept + partly kept + broken) of those due, {BP}"})


class VisitFiguresSchema(Schema):
    count = ma.fields.Integer()
    far_from_address = ma.fields.Integer(metadata={"description": "flagged far_from_address"})
    outside_visit_hours = ma.fields.Integer(metadata={
        "description": "flagged outside_visit_hours"})
    geofence_compliance_bp = ma.fields.Integer(allow_none=True, metadata={
        "description": f"share of visits not far from the address, {BP}"})
    visit_hour_compliance_bp = ma.fields.Integer(allow_none=True, metadata={
        "description": f"share of visits inside visit hours, {BP}"})


class AgainstTargetSchema(Schema):
    actual = ma.fields.Integer(allow_none=True)
    target = ma.fields.Integer(allow_none=True, metadata={
        "description": "the period's share of the monthly target; null: none set"})
    expected = ma.fields.Integer(allow_none=True, metadata={
        "description": "the target's share of the working days up to `as_of`'s day"})
    achieved_bp = ma.fields.Integer(allow_none=True, metadata={
        "description": f"actual / target, {BP}"})
    pace = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(["on_track", "behind"]),
                            metadata={"description": "actual ≥ expected: on_track"})


class AgainstTargetsSchema(Schema):
    recovered_fen = ma.fields.Nested(AgainstTargetSchema)
    m1_fen = ma.fields.Nested(AgainstTargetSchema)
    m2_fen = ma.fields.Nested(AgainstTargetSchema)
    m3_plus_fen = ma.fields.Nested(AgainstTargetSchema, metadata={
        "description": "compared with recovered by_bucket M3 + M3+"})
    m2_account_share_bp = ma.fields.Nested(AgainstTargetSchema)
    visits = ma.fields.Nested(AgainstTargetSchema)


class PeriodFiguresSchema(Schema):
    recovered = ma.fields.Nested(RecoveredSchema)
    m2_accounts = ma.fields.Nested(M2AccountsSchema)
    promises = ma.fields.Nested(PromiseFiguresSchema)
    visits = ma.fields.Nested(VisitFiguresSchema)


class ProgressFiguresSchema(PeriodFiguresSchema):
    against_target = ma.fields.Nested(AgainstTargetsSchema)


class TeamProgressFiguresSchema(ProgressFiguresSchema):
    targets_derived = ma.fields.Boolean(metadata={
        "description": "no team target was set: its targets are the sum of the collectors'"})


class CollectorProgressSchema(ProgressFiguresSchema):
    collector_id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)


class ProgressPeriodSchema(Schema):
    team_id = ma.fields.Integer()
    timezone = ma.fields.String()
    month = MonthField()
    period = ma.fields.String(validate=ma.validate.OneOf(["month", "week", "day"]))
    first_day = ma.fields.Date()
    last_day = ma.fields.Date()
    as_of = ma.fields.AwareDateTime(metadata={"description": "the moment the figures are for"})


class ProgressSchema(ProgressPeriodSchema):
    team_name = ma.fields.String()
    working_days = ma.fields.Integer(metadata={"description": "Monday to Saturday, in the "
                                               "period"})
    working_days_elapsed = ma.fields.Integer(metadata={"description": "up to `as_of`'s day"})
    team = ma.fields.Nested(TeamProgressFiguresSchema, allow_none=True, metadata={
        "description": "the whole team (collectors + unassigned); null when narrowed to one "
                       "collector"})
    unassigned = ma.fields.Nested(PeriodFiguresSchema, allow_none=True, metadata={
        "description": "cases the team held without a collector"})
    collectors = ma.fields.List(ma.fields.Nested(CollectorProgressSchema))


class LeaderboardRowSchema(Schema):
    rank = ma.fields.Integer()
    collector_id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)
    recovered_fen = ma.fields.Integer()
    recovery_target_fen = ma.fields.Integer(allow_none=True)
    recovery_achieved_bp = ma.fields.Integer(allow_none=True)
    visits = ma.fields.Integer()
    geofence_compliance_bp = ma.fields.Integer(allow_none=True)
    visit_hour_compliance_bp = ma.fields.Integer(allow_none=True)
    compliance_bp = ma.fields.Integer(metadata={
        "description": "geofence × visit-hour compliance (100% with no visits)"})
    kept_rate_bp = ma.fields.Integer(allow_none=True)
    score_bp = ma.fields.Integer(allow_none=True, metadata={
        "description": "min(recovery_achieved, 150%) × compliance; null: no recovery target"})


class LeaderboardSchema(ProgressPeriodSchema):
    collectors = ma.fields.List(ma.fields.Nested(LeaderboardRowSchema))

