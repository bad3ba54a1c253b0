"""Reading the case file, and assigning cases."""

from flask import current_app
from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.services.casefile import cases as case_file
from api.services.casefile.assignment import assign_case
from schemas.cases import AssignSchema, CaseDetailSchema, CasePageSchema, CaseQuerySchema
from schemas.common import page_meta

blp = Blueprint("cases", __name__, url_prefix="/cases", description="The case file")


def pii_cipher():
    return current_app.extensions["fieldvisit.pii"]


@blp.route("")
class Cases(MethodView):
    @auth_required()
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args):
        """List the cases you may see, filtered and sorted (the read is audited)"""
        near = None
        if "near_lat" in args:
            near = (args["near_lat"], args["near_lon"], args["radius_m"])
        filters = case_file.CaseFilters(
            team_id=args.get("team_id"),
            collector_id=args.get("collector_id"),
            buckets=[b.value for b in args.get("bucket", [])],
            statuses=[s.value for s in args.get("status", [])],
            dpd_min=args.get("dpd_min"),
            dpd_max=args.get("dpd_max"),
            unassigned=args.get("unassigned"),
            near=near,
            sort=args["sort"],
            page=args["page"],
            page_size=args["page_size"],
        )
        items, total = case_file.list_cases(db.session, current_principal(), filters)
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}


@blp.route("/<int:case_id>")
class CaseById(MethodView):
    @auth_required()
    @blp.response(200, CaseDetailSchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, case_id):
        """The case file: debtor, contacts, addresses, figures, schedule, collateral and
        assignment history, masked for your role (the read is audited)"""
        detail = case_file.case_detail(db.session, current_principal(), case_id, pii_cipher())
        db.session.commit()
        return detail


@blp.route("/<int:case_id>/assignment")
class CaseAssignment(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(AssignSchema)
    @blp.response(200, CaseDetailSchema)
    @blp.alt_response(404, description="No such case, or not in your team")
    @blp.alt_response(422, description="Not an active collector of that team, or case closed")
    def put(self, args, case_id):
        """Assign the case to a collector (or back to the team)"""
        principal = current_principal()
        assign_case(
            db.session,
            principal,
            case_id,
            collector_id=args["collector_id"],
            team_id=args.get("team_id"),
            reason=args.get("reason"),
        )
        detail = case_file.case_detail(db.session, principal, case_id, pii_cipher())
        db.session.commit()
        return detail
