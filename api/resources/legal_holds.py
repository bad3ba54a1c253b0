"""Legal holds: a case's records frozen for litigation or asset preservation (legal staff and
administrators). Retention and erasure leave a held case alone."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import LegalHold
from api.pagination import paginate
from api.services.compliance import holds
from schemas.data_protection import (
    HoldCreateSchema,
    HoldPageSchema,
    HoldQuerySchema,
    HoldReleaseSchema,
    HoldSchema,
)

blp = Blueprint("legal_holds", __name__, description="Legal holds (legal staff, administrators)")


@blp.route("/cases/<int:case_id>/legal-holds")
class CaseHolds(MethodView):
    @auth_required(*holds.HOLD_ROLES)
    @blp.arguments(HoldCreateSchema)
    @blp.response(201, HoldSchema)
    @blp.alt_response(404, description="No such case")
    @blp.alt_response(409, description="The case was already purged: nothing left to hold")
    def post(self, args, case_id):
        """Place a legal hold on a case: nothing of it is purged or erased until it is
        released"""
        hold = holds.place_hold(db.session, current_principal(), case_id, **args)
        db.session.commit()
        return hold


@blp.route("/legal-holds")
class Holds(MethodView):
    @auth_required(*holds.HOLD_ROLES)
    @blp.arguments(HoldQuerySchema, location="query")
    @blp.response(200, HoldPageSchema)
    def get(self, args):
        """List legal holds, newest first, by case, kind or whether still active"""
        stmt = holds.holds_query(case_id=args.get("case_id"), active=args.get("active"),
                                 kind=args.get("kind"))
        return paginate(db.session, stmt, args, LegalHold.placed_at.desc(), LegalHold.id.desc())


@blp.route("/legal-holds/<int:hold_id>/release")
class ReleaseHold(MethodView):
    @auth_required(*holds.HOLD_ROLES)
    @blp.arguments(HoldReleaseSchema)
    @blp.response(200, HoldSchema)
    @blp.alt_response(404, description="No such legal hold")
    @blp.alt_response(409, description="Already released")
    def post(self, args, hold_id):
        """Release a legal hold (the case's retention runs again as its policy says)"""
        hold = holds.release_hold(db.session, current_principal(), hold_id, note=args["note"])
        db.session.commit()
        return hold
