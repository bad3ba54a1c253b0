"""Route plans: supervisors plan their collectors' days; collectors read and re-plan their own."""

from flask import jsonify
from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.supervision import plan_views
from api.services.supervision.plan_store import StartPoint
from api.services.supervision.plans import PlanOrder, plan_routes
from api.services.supervision.replans import replan
from api.services.supervision.routing.pyvrp_planner import PyVRPPlanner
from api.services.supervision.stops import StopRequest, appointment_window
from schemas.common import page_meta
from schemas.routes import (
    FeatureCollectionSchema,
    PlanRequestSchema,
    PlanResultSchema,
    ReplanSchema,
    RoutePageSchema,
    RoutePlanSchema,
    RouteQuerySchema,
)

blp = Blueprint("routes", __name__, url_prefix="/routes", description="Route plans")

READERS = (Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN)


def planner():
    return PyVRPPlanner()


def _start(args) -> StartPoint | None:
    given = args.get("start") or args.get("position")
    return None if given is None else StartPoint(given["lat"], given["lon"], given["datum"])


def plan_order(args) -> PlanOrder:
    if "stops" in args:
        stops = tuple(
            StopRequest(
                case_id=s["case_id"],
                field=f"stops.{i}",
                case_field=f"stops.{i}.case_id",
                address_id=s.get("address_id"),
                duration_s=s["duration_min"] * 60 if "duration_min" in s else None,
                required=s["required"],
                pinned=s["pinned"],
                appointment=appointment_window(
                    s["window"]["start"], s["window"]["end"], f"stops.{i}"
                )
                if "window" in s
                else None,
            )
            for i, s in enumerate(args["stops"])
        )
    else:
        stops = tuple(
            StopRequest(case_id=c, field=f"case_ids.{i}", case_field=f"case_ids.{i}")
            for i, c in enumerate(args["case_ids"])
        )
    one = "collector_id" in args
    shift = args.get("shift")
    return PlanOrder(
        collector_ids=(args["collector_id"],) if one else tuple(args["collector_ids"]),
        collector_field="collector_id" if one else "collector_ids",
        day=args["day"],
        stops=stops,
        stops_field="stops" if "stops" in args else "case_ids",
        start=_start(args),
        shift=(shift["start"], shift["end"]) if shift else ("09:00", "18:00"),
        distribute=args["distribute"],
        duration_s=args["duration_min"] * 60,
    )


@blp.route("")
class Routes(MethodView):
    @auth_required(*READERS)
    @blp.arguments(RouteQuerySchema, location="query")
    @blp.response(200, RoutePageSchema)
    @blp.alt_response(422, description="A filter is invalid")
    def get(self, args):
        """List the route plans you may see, newest day first (the read is audited)

        Collectors see their own plans, supervisors their team's, administrators every
        plan. Summaries only: `GET /routes/{route_id}` has the stops."""
        filters = plan_views.PlanFilters(
            collector_id=args.get("collector_id"),
            team_id=args.get("team_id"),
            day=args.get("day"),
            statuses=[s.value for s in args.get("status", [])],
            page=args["page"],
            page_size=args["page_size"],
        )
        items, total = plan_views.list_plans(db.session, current_principal(), filters)
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}

    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(PlanRequestSchema)
    @blp.response(201, PlanResultSchema)
    @blp.alt_response(
        422,
        description="No stops; a collector not of your team (or of several teams); a case you "
        "may not see, closed, without coordinates, or held by a collector not in the plan; a "
        "required stop that cannot fit (`required_stop_impossible`, naming the stop and why); a "
        "case its collector may not be sent to (`rule_breach`: `collector_authorised`, "
        "`open_complaint_no_dispatch`). Nothing is saved.",
    )
    def post(self, args):
        """Plan a day: one collector, or several of one team together

        Orders the visits from each collector's base (or the given `start`) to keep travel
        short, within the debtor's visit hours in the debtor's time zone (a visit must also end
        inside them), any appointment, each visit's duration and the shift. Optional visits
        are kept by priority (bucket, a promise due, the amount overdue); what does not fit is
        listed under `unplanned` with the reason. Each plan is published at once to its
        collector's phone (through sync) and supersedes that collector's earlier plan for the
        day. With `distribute`, cases moved to another collector's route are reassigned to
        them. The answer names debtors and addresses: it is audited."""
        plans = plan_routes(
            db.session,
            current_principal(),
            plan_order(args),
            planner=planner(),
            now=utcnow(),
        )
        views = plan_views.plan_views(db.session, current_principal(), plans)
        db.session.commit()
        return {"plans": views}, 201


@blp.route("/<int:route_id>")
class RouteById(MethodView):
    @auth_required(*READERS)
    @blp.response(200, RoutePlanSchema)
    @blp.alt_response(404, description="No such plan, or not yours to see")
    def get(self, route_id):
        """A route plan: its stops in order with times and distances, what could not fit and
        why, and what was cancelled (the read is audited)"""
        view = plan_views.read_plan(db.session, current_principal(), route_id)
        db.session.commit()
        return view


@blp.route("/<int:route_id>/geojson")
class RouteGeoJSON(MethodView):
    @auth_required(*READERS)
    @blp.response(200, FeatureCollectionSchema, content_type="application/geo+json")
    @blp.alt_response(404, description="No such plan, or not yours to see")
    def get(self, route_id):
        """The plan as GeoJSON for a map (the read is audited)

        A FeatureCollection (RFC 7946, [lon, lat], WGS-84): the route still to drive as a
        LineString from the start through the planned stops in order, then Points: the start
        (`kind` start), each stop on the route (`kind` stop: `sequence`, `case_id`, `status`,
        times) and each stop that could not fit (`kind` unplanned: `reason`, `detail`)."""
        principal = current_principal()
        plan = plan_views.get_visible_plan(db.session, principal, route_id)
        response = jsonify(plan_views.geojson(plan))
        response.mimetype = "application/geo+json"
        plan_views.audit_read(db.session, principal, [plan])
        db.session.commit()
        return response


@blp.route("/<int:route_id>/replan")
class RouteReplan(MethodView):
    @auth_required(*READERS)
    @blp.arguments(ReplanSchema)
    @blp.response(201, RoutePlanSchema)
    @blp.alt_response(404, description="No such plan, or not yours to re-plan")
    @blp.alt_response(409, description="The plan was superseded: re-plan its successor")
    @blp.alt_response(
        422,
        description="`at` after the shift; a cancelled case not on the plan, or pinned by the "
        "supervisor (for a collector); a stop still to visit that the collector may no longer "
        "be sent to (`rule_breach`: cancel it to re-plan the rest)",
    )
    def post(self, args, route_id):
        """Re-plan the rest of the day from where the collector stands

        For the collector whose plan it is (from the phone, with `position`) or their
        supervisor. Stops visited that day by the collector stay done, pinned stops stay
        (required), `cancelled_case_ids` are dropped, and the rest is planned again from
        `position` at `at` (default now). The answer is a new version that supersedes the
        plan; the phone receives it through sync. A required stop that no longer fits does not
        refuse a re-plan: it is listed under `unplanned` with the reason."""
        plan = replan(
            db.session,
            current_principal(),
            route_id,
            position=_start(args),
            cancelled_case_ids=args["cancelled_case_ids"],
            at=args.get("at") or utcnow(),
            planner=planner(),
            now=utcnow(),
        )
        view = plan_views.plan_views(db.session, current_principal(), [plan])[0]
        db.session.commit()
        return view, 201
