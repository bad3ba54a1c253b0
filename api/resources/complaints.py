"""Complaints about cases: recorded, listed, handled and closed (supervisors for their team's
cases, legal staff and administrators for all; collectors none). Every read is audited."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.compliance import complaints
from schemas.common import page_meta
from schemas.complaints import (
    ComplaintCreateSchema,
    ComplaintPageSchema,
    ComplaintQuerySchema,
    ComplaintSchema,
    ComplaintUpdateSchema,
)

blp = Blueprint(
    "complaints", __name__, url_prefix="/complaints",
    description="Complaints about how a case was worked; an open one stops dispatch",
)
HANDLERS = (Role.SUPERVISOR, Role.LEGAL, Role.ADMIN)


@blp.route("")
class Complaints(MethodView):
    @auth_required(*HANDLERS)
    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintPageSchema)
    @blp.alt_response(403, description="A supervisor naming another team")
    def get(self, args):
        """List the complaints you may see, newest received first (the read is audited)

        Supervisors see complaints about their team's cases; legal staff and administrators
        every complaint. Filter by status (repeatable), team or case."""
        filters = complaints.ComplaintFilters(
            statuses=tuple(args.get("status", ())), team_id=args.get("team_id"),
            case_id=args.get("case_id"), page=args["page"], page_size=args["page_size"])
        items, total = complaints.list_complaints(db.session, current_principal(), filters)
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}

    @auth_required(*HANDLERS)
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintSchema)
    @blp.alt_response(422, description="A case you may not see, a contact not of the case's "
                      "debtor, a complainant without a name, a time in the future (the field "
                      "is named)")
    def post(self, args):
        """Record a complaint about a case

        It is `open` until someone is assigned to handle it. While it is open or assigned, the
        case is neither assigned nor planned where the case's policy has
        `block_dispatch_on_open_complaint` (`rule_breach`, rule `open_complaint_no_dispatch`).
        Audited."""
        complaint = complaints.record_complaint(db.session, current_principal(), args,
                                                now=utcnow())
        db.session.commit()
        return complaint


@blp.route("/<int:complaint_id>")
class ComplaintById(MethodView):
    @auth_required(*HANDLERS)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(404, description="No such complaint, or not about a case of your team")
    def get(self, complaint_id):
        """A complaint with its notes (the read is audited)"""
        complaint = complaints.read_complaint(db.session, current_principal(), complaint_id)
        db.session.commit()
        return complaint

    @auth_required(*HANDLERS)
    @blp.arguments(ComplaintUpdateSchema)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(404, description="No such complaint, or not about a case of your team")
    @blp.alt_response(409, description="The complaint is closed (`complaint_closed`)")
    @blp.alt_response(422, description="A handler who may not handle it, closing without an "
                      "outcome, an outcome without closing (the field is named)")
    def patch(self, args, complaint_id):
        """Handle a complaint: assign it (`assignee_id`), add a `note`, close it
        (`status: closed` with an `outcome`), or several at once

        Closing lifts the dispatch block on the case. A closed complaint is final. Audited."""
        complaint = complaints.update_complaint(db.session, current_principal(), complaint_id,
                                                args, now=utcnow())
        db.session.commit()
        return complaint
