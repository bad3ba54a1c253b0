"""Compliance policies: per jurisdiction and lender, versioned, each version in effect from a
stated time (api/services/compliance/)."""

from flask.views import MethodView
from sqlalchemy import select

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import CompliancePolicy, Role, RuleRefusal
from api.models.types import utcnow
from api.pagination import paginate
from api.services.compliance import policy_admin
from api.services.compliance.refusals import refusal_view, refusals_visible_to
from api.services.identity.access import get_visible_case
from schemas.policies import (
    CasePolicySchema,
    CasePolicyUpdateSchema,
    PolicyCreateSchema,
    PolicyPageSchema,
    PolicyQuerySchema,
    PolicySchema,
    PolicyVersionCreateSchema,
    PolicyVersionSchema,
    RefusalPageSchema,
    RefusalQuerySchema,
)

blp = Blueprint("policies", __name__, url_prefix="", description="Compliance policies")
READERS = (Role.ADMIN, Role.SUPERVISOR, Role.LEGAL)


@blp.route("/policies")
class Policies(MethodView):
    @auth_required(*READERS)
    @blp.arguments(PolicyQuerySchema, location="query")
    @blp.response(200, PolicyPageSchema)
    def get(self, args):
        """List compliance policies, each with the version in effect now and every version"""
        stmt = select(CompliancePolicy)
        for key in ("jurisdiction", "lender"):
            if key in args:
                stmt = stmt.where(getattr(CompliancePolicy, key) == args[key])
        page = paginate(db.session, stmt, args, CompliancePolicy.jurisdiction,
                        CompliancePolicy.lender)
        now = utcnow()
        page["items"] = [policy_admin.policy_view(db.session, p, now) for p in page["items"]]
        return page

    @auth_required(Role.ADMIN)
    @blp.arguments(PolicyCreateSchema)
    @blp.response(201, PolicySchema)
    @blp.alt_response(409, description="The name is taken, or the lender already has a "
                      "policy in the jurisdiction")
    @blp.alt_response(422, description="A setting is not valid (named `rules.<setting>`), or "
                      "`effective_from` is in the past")
    def post(self, args):
        """Create a policy for a jurisdiction and a lender (`*`: any lender)

        Version 1 is the jurisdiction's preset (CN, US or IN) with the `rules` given; it
        governs that lender's cases in the jurisdiction from `effective_from` (default now)."""
        policy = policy_admin.create_policy(
            db.session, **args, created_by_id=current_principal().user_id)
        db.session.commit()
        return policy_admin.policy_view(db.session, policy, utcnow())


@blp.route("/policies/<int:policy_id>")
class PolicyItem(MethodView):
    @auth_required(*READERS)
    @blp.response(200, PolicySchema)
    @blp.alt_response(404, description="No such policy")
    def get(self, policy_id):
        """Read a policy and all its versions"""
        policy = policy_admin.get_policy(db.session, policy_id)
        return policy_admin.policy_view(db.session, policy, utcnow())


@blp.route("/policies/<int:policy_id>/versions")
class PolicyVersions(MethodView):
    @auth_required(Role.ADMIN)
    @blp.arguments(PolicyVersionCreateSchema)
    @blp.response(201, PolicyVersionSchema)
    @blp.alt_response(404, description="No such policy")
    @blp.alt_response(422, description="A setting is not valid (named `rules.<setting>`), or "
                      "`effective_from` is in the past")
    def post(self, args, policy_id):
        """Add a version: the latest version's settings with the `rules` given

        It takes effect from `effective_from` (now or later, never in the past). Verdicts
        already recorded keep the version they were judged under."""
        version = policy_admin.add_policy_version(
            db.session, policy_id, **args, created_by_id=current_principal().user_id)
        db.session.commit()
        return policy_admin.version_view(version)


@blp.route("/cases/<int:case_id>/policy")
class CasePolicy(MethodView):
    @auth_required()
    @blp.response(200, CasePolicySchema)
    @blp.alt_response(404, description="No such case (or not one you may see)")
    def get(self, case_id):
        """The policy version governing a case now, and why that one (held to it, its
        lender's, its jurisdiction's, or the built-in preset)"""
        case = get_visible_case(db.session, current_principal(), case_id)
        return policy_admin.case_policy_view(db.session, case, utcnow())

    @auth_required(Role.ADMIN)
    @blp.arguments(CasePolicyUpdateSchema)
    @blp.response(200, CasePolicySchema)
    @blp.alt_response(404, description="No such case")
    @blp.alt_response(422, description="No such policy, or one for another jurisdiction")
    def put(self, args, case_id):
        """Hold a case to a policy of its jurisdiction (null: back to its lender's)"""
        case = get_visible_case(db.session, current_principal(), case_id)
        policy_admin.hold_case_to(db.session, case, args["policy_id"])
        db.session.commit()
        return policy_admin.case_policy_view(db.session, case, utcnow())


@blp.route("/compliance/refusals")
class Refusals(MethodView):
    @auth_required(*READERS)
    @blp.arguments(RefusalQuerySchema, location="query")
    @blp.response(200, RefusalPageSchema)
    def get(self, args):
        """What the rules refused: each plan, assignment or contact refused for a rule, with
        the policy version and the sentence given, newest first (a supervisor: their team's)"""
        page = paginate(db.session, refusals_visible_to(current_principal(), args), args,
                        RuleRefusal.at.desc(), RuleRefusal.id.desc())
        page["items"] = [refusal_view(r) for r in page["items"]]
        return page
