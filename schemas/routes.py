"""Route plans: what a supervisor asks for, re-plans, and what a plan looks like (and on a map)."""

import re

import marshmallow as ma

from api.extensions import Schema
from api.models import PlanStatus, StartKind, StopStatus
from api.services.geo import DATUMS, WGS84
from api.services.supervision.plans import MAX_COLLECTORS
from schemas.common import PageArgsSchema, in_years, page_of

MAX_STOPS = 200
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _hhmm(value: str) -> None:
    if not _HHMM.match(value):
        raise ma.ValidationError("must be HH:MM, 00:00 to 23:59")


class PositionSchema(Schema):
    lat = ma.fields.Float(
        required=True, validate=ma.validate.Range(-90, 90), metadata={"example": 43.8256}
    )
    lon = ma.fields.Float(
        required=True, validate=ma.validate.Range(-180, 180), metadata={"example": 87.6168}
    )
    datum = ma.fields.String(
        load_default=WGS84,
        validate=ma.validate.OneOf(DATUMS),
        metadata={"description": "a phone's GPS is WGS84; AMap/Tencent GCJ02, Baidu BD09"},
    )


class ShiftInSchema(Schema):
    start = ma.fields.String(required=True, validate=_hhmm, metadata={"example": "09:00"})
    end = ma.fields.String(required=True, validate=_hhmm, metadata={"example": "18:00"})

    @ma.validates_schema
    def check(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ma.ValidationError({"end": ["must be later than start"]})


class AppointmentSchema(Schema):
    start = ma.fields.AwareDateTime(
        required=True, validate=in_years, metadata={"example": "2026-12-03T10:00:00+06:00"}
    )
    end = ma.fields.AwareDateTime(
        required=True, validate=in_years, metadata={"example": "2026-12-03T11:00:00+06:00"}
    )

    @ma.validates_schema
    def check(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ma.ValidationError({"end": ["must be after start"]})


class StopInSchema(Schema):
    case_id = ma.fields.Integer(required=True, metadata={"example": 4711})
    address_id = ma.fields.Integer(
        metadata={
            "description": "which of the debtor's addresses; default: the debtor's home, "
            "else the first address with coordinates"
        }
    )
    duration_min = ma.fields.Integer(
        validate=ma.validate.Range(1, 480),
        metadata={"description": "how long the visit takes; default: the plan's `duration_min`"},
    )
    required = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "must be on the route: a plan that cannot fit it is refused"},
    )
    pinned = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "fixed by the supervisor: stays with the case's holder, is "
            "required, and survives every re-plan (a collector cannot cancel it)"
        },
    )
    window = ma.fields.Nested(
        AppointmentSchema,
        metadata={
            "description": "an appointment: the visit must start and end inside it "
            "(and inside the debtor's visit hours)"
        },
    )


class PlanRequestSchema(Schema):
    collector_id = ma.fields.Integer(metadata={"description": "one collector (or collector_ids)"})
    collector_ids = ma.fields.List(
        ma.fields.Integer(),
        validate=ma.validate.Length(min=1, max=MAX_COLLECTORS),
        metadata={"description": "several collectors of one team, planned together"},
    )
    day = ma.fields.Date(
        required=True,
        validate=in_years,
        metadata={
            "description": "the service day, in the team's time zone",
            "example": "2026-12-03",
        },
    )
    case_ids = ma.fields.List(
        ma.fields.Integer(),
        validate=ma.validate.Length(max=MAX_STOPS),
        metadata={"description": "the cases to visit, with the defaults (or give `stops`)"},
    )
    stops = ma.fields.List(
        ma.fields.Nested(StopInSchema),
        validate=ma.validate.Length(max=MAX_STOPS),
        metadata={"description": "the visits, each with its own options (or give `case_ids`)"},
    )
    duration_min = ma.fields.Integer(
        load_default=30,
        validate=ma.validate.Range(1, 480),
        metadata={"description": "default length of a visit"},
    )
    start = ma.fields.Nested(
        PositionSchema,
        metadata={
            "description": "where the day starts (one collector only); default: the "
            "collector's base"
        },
    )
    shift = ma.fields.Nested(
        ShiftInSchema,
        metadata={"description": "the working day, team-local; default 09:00–18:00"},
    )
    distribute = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "let the planner give unpinned cases to any of the collectors "
            '(each moved case is reassigned, reason "route plan"); default: every case '
            "stays on its holder's route"
        },
    )

    @ma.validates_schema
    def check(self, data, **kwargs):
        if ("collector_id" in data) == ("collector_ids" in data):
            raise ma.ValidationError({"collector_id": ["give collector_id or collector_ids"]})
        if ("case_ids" in data) == ("stops" in data):
            raise ma.ValidationError({"stops": ["give stops or case_ids"]})


class ReplanSchema(Schema):
    position = ma.fields.Nested(
        PositionSchema,
        metadata={
            "description": "where the collector stands; default: the last visit done, "
            "else the plan's start"
        },
    )
    at = ma.fields.AwareDateTime(
        validate=in_years,
        metadata={
            "description": "the moment to plan from (default: now); the route leaves "
            "then, or at the shift's start if later"
        }
    )
    cancelled_case_ids = ma.fields.List(
        ma.fields.Integer(),
        load_default=list,
        validate=ma.validate.Length(max=MAX_STOPS),
        metadata={"description": "stops to drop (a collector cannot drop a pinned one)"},
    )


class RouteQuerySchema(PageArgsSchema):
    collector_id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    day = ma.fields.Date(metadata={"description": "the service day"})
    status = ma.fields.List(
        ma.fields.Enum(PlanStatus, by_value=True),
        metadata={"description": "repeat to match any of several"},
    )


# ----------------------------------------------------------------------------- answers


class StartSchema(Schema):
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    kind = ma.fields.Enum(StartKind, by_value=True)


class WindowSchema(Schema):
    start = ma.fields.DateTime()
    end = ma.fields.DateTime()


class TotalsSchema(Schema):
    stops = ma.fields.Integer(metadata={"description": "every stop of the plan"})
    planned = ma.fields.Integer()
    done = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    unplanned = ma.fields.Integer()
    distance_m = ma.fields.Float(metadata={"description": "still to drive, from the start"})
    visit_s = ma.fields.Integer(metadata={"description": "time of the planned visits"})
    ends_at = ma.fields.DateTime(allow_none=True)


class RouteStopSchema(Schema):
    sequence = ma.fields.Integer(allow_none=True, metadata={"description": "1-based, on the route"})
    case_id = ma.fields.Integer()
    contract_no = ma.fields.String(allow_none=True)
    debtor_name = ma.fields.String(allow_none=True)
    address_id = ma.fields.Integer(allow_none=True)
    address_text = ma.fields.String(allow_none=True)
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    window = ma.fields.Nested(
        WindowSchema,
        allow_none=True,
        metadata={"description": "visit hours (debtor-local) and appointment, as UTC"},
    )
    arrival = ma.fields.DateTime(allow_none=True)
    start = ma.fields.DateTime(allow_none=True, metadata={"description": "after any wait"})
    departure = ma.fields.DateTime(allow_none=True)
    travel_m = ma.fields.Float(allow_none=True, metadata={"description": "from the stop before"})
    duration_s = ma.fields.Integer()
    required = ma.fields.Boolean()
    pinned = ma.fields.Boolean()
    priority = ma.fields.Integer()
    status = ma.fields.Enum(StopStatus, by_value=True)
    visit_report_id = ma.fields.String(allow_none=True)
    reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "unplanned: window_closed, unreachable, no_shift, blackout, "
            "not_worth_it; cancelled: cancelled, case_closed, case_reassigned"
        },
    )
    detail = ma.fields.String(allow_none=True, metadata={"description": "the reason, worded"})


class RoutePlanSummarySchema(Schema):
    id = ma.fields.Integer()
    version = ma.fields.Integer(metadata={"description": "1, 2, 3… per collector and day"})
    status = ma.fields.Enum(PlanStatus, by_value=True)
    collector_id = ma.fields.Integer()
    collector_name = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer()
    service_day = ma.fields.Date()
    timezone = ma.fields.String(metadata={"example": "Asia/Shanghai"})
    start = ma.fields.Nested(StartSchema)
    shift = ma.fields.Nested(WindowSchema)
    departs_at = ma.fields.DateTime()
    planned_by_id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    superseded_at = ma.fields.DateTime(allow_none=True)
    replanned_from_id = ma.fields.Integer(allow_none=True)
    solve_ms = ma.fields.Float()
    totals = ma.fields.Nested(TotalsSchema)


class RoutePlanSchema(RoutePlanSummarySchema):
    stops = ma.fields.List(
        ma.fields.Nested(RouteStopSchema),
        metadata={"description": "the route in order: done stops, then the planned ones"},
    )
    unplanned = ma.fields.List(
        ma.fields.Nested(RouteStopSchema), metadata={"description": "what could not fit, and why"}
    )
    cancelled = ma.fields.List(ma.fields.Nested(RouteStopSchema))


class PlanResultSchema(Schema):
    plans = ma.fields.List(
        ma.fields.Nested(RoutePlanSchema), metadata={"description": "one per collector"}
    )


RoutePageSchema = page_of(RoutePlanSummarySchema, "RoutePage")


class GeometrySchema(Schema):
    type = ma.fields.String(validate=ma.validate.OneOf(["Point", "LineString"]))
    coordinates = ma.fields.List(
        ma.fields.Raw(),
        metadata={"description": "[lon, lat] for a Point, a list of them for a LineString"},
    )


class FeatureSchema(Schema):
    type = ma.fields.Constant("Feature")
    geometry = ma.fields.Nested(GeometrySchema)
    properties = ma.fields.Dict(
        metadata={
            "description": "`kind` route | start | stop | unplanned; stops carry "
            "`sequence`, `case_id`, `status`, `arrival`, `start`, `departure`, "
            "`travel_m`; unplanned ones `case_id`, `reason`, `detail`"
        }
    )


class FeatureCollectionSchema(Schema):
    type = ma.fields.Constant("FeatureCollection")
    features = ma.fields.List(ma.fields.Nested(FeatureSchema))
