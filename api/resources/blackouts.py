"""A debtor's declared blackouts, through the case: supervisors and admins record and remove
them, the case's collector reads them (the phone also carries them in the case document)."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.compliance import blackouts
from schemas.blackouts import BlackoutInSchema, BlackoutPageSchema, BlackoutSchema
from schemas.common import PageArgsSchema, page_meta

blp = Blueprint(
    "blackouts", __name__, url_prefix="/cases",
    description="Times and places a debtor declared off limits",
)


@blp.route("/<int:case_id>/blackouts")
class CaseBlackouts(MethodView):
    @auth_required(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, BlackoutPageSchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, args, case_id):
        """The debtor's blackouts, oldest first (the read is audited)

        A time blackout keeps visits and calls out of its hours on its weekdays; a place
        blackout keeps visits away from its address (or every address of its kind)."""
        rows, total = blackouts.list_blackouts(db.session, current_principal(), case_id,
                                               page=args["page"], page_size=args["page_size"])
        db.session.commit()
        return {"items": rows, "page": page_meta(args["page"], args["page_size"], total)}

    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(BlackoutInSchema)
    @blp.response(201, BlackoutSchema)
    @blp.alt_response(404, description="No such case, or not your team's")
    @blp.alt_response(422, description="Hours with one end, or ending before they start; a "
                      "place blackout without a place, or with another debtor's address")
    def post(self, args, case_id):
        """Record a blackout the debtor declared ("never at work", "not Sundays", "not
        12:00–14:00"): route plans keep out of it from now on, and a visit or call that
        breaks it is flagged `in_blackout`"""
        row = blackouts.add_blackout(db.session, current_principal(), case_id, args, utcnow())
        db.session.commit()
        return row


@blp.route("/<int:case_id>/blackouts/<int:blackout_id>")
class CaseBlackout(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.response(204)
    @blp.alt_response(404, description="No such case or blackout")
    def delete(self, case_id, blackout_id):
        """Remove a blackout (the debtor withdrew it)"""
        blackouts.remove_blackout(db.session, current_principal(), case_id, blackout_id)
        db.session.commit()
