"""Whether a case's debtor can be reached: read it, and mark it (the same record a phone pushes
as `reachability`)."""

from __future__ import annotations

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.errors import error_response
from api.extensions import Blueprint, db
from api.models import Role
from api.resources.filing import filing_environment
from api.services.fieldwork import reachability
from api.services.fieldwork.filing import AlreadyFiled, file_online
from mobile_sync.registry import MUTATIONS
from schemas.common import page_meta
from schemas.filing import OnlineReachabilitySchema
from schemas.reachability import CaseReachabilitySchema, ReachabilityQuerySchema

blp = Blueprint(
    "reachability",
    __name__,
    description="The debtor's reachability: contacts and third parties only while unreachable",
)


def _answer(case_id: int, page: int, page_size: int) -> dict:
    found = reachability.case_reachability(
        db.session, current_principal(), case_id, page=page, page_size=page_size
    )
    found["page"] = page_meta(page, page_size, found.pop("total"))
    return found


@blp.route("/cases/<int:case_id>/reachability")
class CaseReachability(MethodView):
    @auth_required()
    @blp.arguments(ReachabilityQuerySchema, location="query")
    @blp.response(200, CaseReachabilitySchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, args, case_id):
        """Whether the debtor can be reached, a suggestion, and the history (audited)

        The state is the latest change; `suggestion` says when the debtor's calls suggest
        marking them unreachable (the `contact_lost` finding of the visit suggestions): it is
        never acted on by itself. `items` is one page of the changes, newest first, with who
        made each and when."""
        found = _answer(case_id, args["page"], args["page_size"])
        db.session.commit()
        return found

    @auth_required(Role.COLLECTOR, Role.SUPERVISOR)
    @blp.arguments(OnlineReachabilitySchema)
    @blp.response(200, CaseReachabilitySchema)
    @blp.alt_response(404, description="No such case, or not one you may mark")
    @blp.alt_response(
        409, description="`already_filed`: this change's id was filed before (nothing changed)"
    )
    @blp.alt_response(
        422, description="A reason missing or unknown, or `since` after the marking; nothing "
        "is saved"
    )
    def put(self, args, case_id):
        """Mark the debtor unreachable (why, since when) or reachable again

        The collector holding the case and the supervisors of its team may. The body is the
        `reachability` payload of a push (`case_id` from the path). While the debtor is marked
        unreachable, and where the policy says so (`contacts_only_when_unreachable`), their
        contacts may be called and a third party's phone revealed; an attempt at a third party
        otherwise is flagged `contact_while_reachable`. Answers the new state and history."""
        kind = MUTATIONS["reachability"]
        try:
            file_online(db.session, current_principal(), case_id, record_type="reachability",
                        model=kind.model, apply=kind.apply, data=args, env=filing_environment())
        except AlreadyFiled as exc:
            db.session.rollback()
            return error_response(409, exc.message, code=exc.code, fields=exc.fields)
        db.session.flush()
        found = _answer(case_id, 1, 50)
        db.session.commit()
        return found
