"""Data-subject requests (PIPL): a debtor's export, correction and erasure, each logged with
its outcome (administrators and legal staff)."""

from flask import current_app
from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import SubjectRequest
from api.pagination import paginate
from api.services.compliance import subject_requests as requests
from schemas.data_protection import (
    SubjectExportSchema,
    SubjectRequestCreateSchema,
    SubjectRequestPageSchema,
    SubjectRequestQuerySchema,
    SubjectRequestSchema,
)

blp = Blueprint("subject_requests", __name__, url_prefix="/subject-requests",
                description="Data-subject requests: export, correction, erasure")


@blp.route("")
class SubjectRequests(MethodView):
    @auth_required(*requests.REQUEST_ROLES)
    @blp.arguments(SubjectRequestCreateSchema)
    @blp.response(201, SubjectRequestSchema)
    @blp.alt_response(404, description="No such debtor or case (the field is named)")
    @blp.alt_response(422, description="Erasure refused under a legal hold (`rule: legal_hold`) "
                      "or a retention duty (`rule: retention`); the refusal is logged")
    def post(self, args):
        """Log a data-subject request and act on it

        - `export`: done at once; read the document at `/subject-requests/{id}/export`;
        - `correction`: becomes a field proposal (`proposal_id`), reviewed at
          `/proposals/{id}/review`; the review's decision closes the request;
        - `erasure`: the debtor's field records and evidence are erased and the debtor
          anonymised, unless a legal hold or a retention duty applies: then 422 `rule_breach`,
          and the request is logged as refused."""
        request, breach = requests.file_request(
            db.session, current_principal(), current_app.extensions["fieldvisit.blobs"],
            current_app.extensions["fieldvisit.pii"], **args)
        db.session.commit()
        if breach is not None:
            raise breach
        return request

    @auth_required(*requests.REQUEST_ROLES)
    @blp.arguments(SubjectRequestQuerySchema, location="query")
    @blp.response(200, SubjectRequestPageSchema)
    def get(self, args):
        """List data-subject requests, newest first"""
        stmt = requests.requests_query(kind=args.get("kind"), status=args.get("status"),
                                       debtor_id=args.get("debtor_id"))
        return paginate(db.session, stmt, args, SubjectRequest.received_at.desc(),
                        SubjectRequest.id.desc())


@blp.route("/<int:request_id>")
class SubjectRequestById(MethodView):
    @auth_required(*requests.REQUEST_ROLES)
    @blp.response(200, SubjectRequestSchema)
    @blp.alt_response(404, description="No such request")
    def get(self, request_id):
        """One data-subject request and its outcome"""
        return requests.get_request(db.session, current_principal(), request_id)


@blp.route("/<int:request_id>/export")
class SubjectExport(MethodView):
    @auth_required(*requests.REQUEST_ROLES)
    @blp.response(200, SubjectExportSchema)
    @blp.alt_response(404, description="No such request")
    @blp.alt_response(409, description="The request is not an export")
    def get(self, request_id):
        """Everything held on the export request's debtor, as JSON, read now (audited)

        The debtor, contacts and addresses; each case with its schedule, payments, collateral,
        assignments, legal holds, field records (visits, contact attempts, promises, receipts,
        notices, notes, proposals, sightings, repossessions) and evidence files (metadata and
        SHA-256); and `reads`, the audit of who read the debtor's data."""
        document = requests.export(db.session, current_principal(), request_id,
                                   current_app.extensions["fieldvisit.pii"])
        db.session.commit()
        return document
