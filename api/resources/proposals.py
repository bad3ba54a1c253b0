"""Review of phones, addresses and contacts learnt in the field."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.etags import check_if_match, proposal_etag, with_etag
from api.extensions import Blueprint, db
from api.models import FieldProposal, Role
from api.pagination import paginate
from api.services.casefile import proposals
from api.services.identity import audit
from schemas.proposals import ProposalPageSchema, ProposalQuerySchema, ProposalSchema, ReviewSchema

blp = Blueprint(
    "proposals",
    __name__,
    url_prefix="/proposals",
    description="Field-learnt details awaiting review",
)


@blp.route("")
class Proposals(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN, Role.LEGAL)
    @blp.arguments(ProposalQuerySchema, location="query")
    @blp.response(200, ProposalPageSchema)
    def get(self, args):
        """List field proposals on the cases you may see (oldest first)"""
        principal = current_principal()
        stmt = proposals.proposals_query(principal, args.get("status"))
        page = paginate(db.session, stmt, args, FieldProposal.received_at, FieldProposal.id)
        if page["items"]:  # proposals carry phones and addresses: personal data
            audit.record(db.session, principal, "proposal.list",
                         detail={"proposal_ids": [p.id for p in page["items"]]})
            db.session.commit()
        return page


@blp.route("/<string:proposal_id>")
class ProposalById(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN, Role.LEGAL)
    @blp.response(200, ProposalSchema, etag=True)
    @blp.alt_response(404, description="No such proposal, or not on a case you may see")
    def get(self, proposal_id):
        """One field proposal (the read is audited; its `ETag` is for `If-Match` on review)"""
        principal = current_principal()
        proposal = proposals.visible_proposal(db.session, principal, proposal_id)
        audit.record(db.session, principal, "proposal.read", case_id=proposal.case_id,
                     detail={"proposal_ids": [proposal.id]})
        etag = proposal_etag(proposal)
        db.session.commit()
        return with_etag(proposal, etag)


@blp.route("/<string:proposal_id>/review")
class Review(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(ReviewSchema)
    @blp.response(200, ProposalSchema, etag=True)
    @blp.if_match()
    @blp.alt_response(404, description="No such proposal, or not on a case you may see")
    @blp.alt_response(409, description="Already reviewed")
    def post(self, args, proposal_id):
        """Accept (adds the detail to the case file) or reject a field proposal

        With `If-Match` (the proposal's `ETag`), the review is refused with 412 if the
        proposal changed since you read it (another reviewer got there first)."""
        principal = current_principal()
        check_if_match(
            proposal_etag(proposals.visible_proposal(
                db.session, principal, proposal_id, for_update=True))
        )
        proposal = proposals.review(
            db.session,
            principal,
            proposal_id,
            accept=args["decision"] == "accept",
            note=args.get("note"),
        )
        etag = proposal_etag(proposal)
        db.session.commit()
        return with_etag(proposal, etag)
