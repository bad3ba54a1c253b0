"""The audit log: list, verify, and the signed heads of its chains (administrators)."""

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from api.auth import auth_required
from api.extensions import Blueprint, db
from api.models import AuditEvent, Role
from api.pagination import paginate
from api.services.identity.audit import latest_heads, verify_chain
from schemas.audit import (
    AuditHeadsSchema,
    AuditPageSchema,
    AuditQuerySchema,
    ChainReportSchema,
)

blp = Blueprint("audit", __name__, url_prefix="/audit", description="Audit log")


@blp.route("")
class AuditEvents(MethodView):
    @auth_required(Role.ADMIN)
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """List audit events, newest first"""
        stmt = select(AuditEvent)
        for key in ("case_id", "actor_id", "action"):
            if key in args:
                stmt = stmt.where(getattr(AuditEvent, key) == args[key])
        return paginate(db.session, stmt, args, AuditEvent.id.desc())


@blp.route("/verify")
class AuditVerify(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(200, ChainReportSchema)
    def get(self):
        """Recompute every shard's chain, check the signed heads, name the first row that does
        not fit"""
        return verify_chain(db.session)


@blp.route("/heads")
class AuditHeads(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(200, AuditHeadsSchema)
    def get(self):
        """The latest signed statement of the chains' heads, and the keys that check it"""
        latest = latest_heads(db.session)
        keys = current_app.extensions["fieldvisit.audit"].public_keys()
        return {"latest": latest.as_dict() if latest else None,
                "public_keys": {str(k): v for k, v in keys.items()}}
