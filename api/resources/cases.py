"""Reading the case file, and assigning cases."""

from flask import current_app
from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.etags import case_etag, check_if_match, with_etag
from api.extensions import Blueprint, db
from api.models import Case, Role
from api.services.casefile import cases as case_file
from api.services.casefile.reveal import REVEALERS, reveal_personal_data
from api.services.identity.access import get_visible_case
from api.services.supervision.assignment import assign_case
from schemas.cases import (
    AssignSchema,
    CaseDetailSchema,
    CasePageSchema,
    CaseQuerySchema,
    RevealedSchema,
    RevealSchema,
)
from schemas.common import page_meta

blp = Blueprint("cases", __name__, url_prefix="/cases", description="The case file")


def pii_cipher():
    return current_app.extensions["fieldvisit.pii"]


@blp.route("")
class Cases(MethodView):
    @auth_required()
    @blp.arguments(CaseQuerySchema, location="query")
    @blp.response(200, CasePageSchema)
    @blp.alt_response(422, description="A filter is invalid, or `q` is too short or too long")
    def get(self, args):
        """List the cases you may see, filtered, searched and sorted (the read is audited)

        `q` finds a case by contract number, the debtor's lender reference, the start of the
        debtor's name, a phone of the debtor or of a contact, the national ID, a plate, a VIN
        or the VIN's last six characters; it combines with every other filter. The audit row
        records that a search happened (the kinds tried and a keyed digest), never `q`."""
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
            q=args.get("q"),
            with_location="location" in args["with_"],
            sort=args["sort"],
            page=args["page"],
            page_size=args["page_size"],
        )
        items, total = case_file.list_cases(
            db.session, current_principal(), filters, pii_cipher()
        )
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}


@blp.route("/<int:case_id>")
class CaseById(MethodView):
    @auth_required()
    @blp.response(200, CaseDetailSchema, etag=True)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, case_id):
        """The case file: debtor, contacts, addresses, figures, schedule, collateral and
        assignment history, masked for your role (the read is audited)

        The `ETag` is the case's version: send it as `If-Match` when you reassign the case."""
        detail = case_file.case_detail(db.session, current_principal(), case_id, pii_cipher())
        etag = case_etag(db.session.get(Case, case_id))
        db.session.commit()
        return with_etag(detail, etag)


@blp.route("/<int:case_id>/assignment")
class CaseAssignment(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(AssignSchema)
    @blp.response(200, CaseDetailSchema, etag=True)
    @blp.alt_response(404, description="No such case, or not in your team")
    @blp.alt_response(422, description="Not an active collector of that team, or case closed; "
                      "a collector not authorised for the case's lender and jurisdiction today, "
                      "or an open complaint about the case (`rule_breach`)")
    @blp.alt_response(409, description="Someone else changed the case at the same moment")
    @blp.if_match()
    def put(self, args, case_id):
        """Assign the case to a collector (or back to the team)

        With `If-Match` (the case's `ETag`), the assignment is refused with 412 if the case
        changed since you read it, e.g. another supervisor reassigned it."""
        principal = current_principal()
        check_if_match(case_etag(get_visible_case(db.session, principal, case_id)))
        assign_case(
            db.session,
            principal,
            case_id,
            collector_id=args["collector_id"],
            team_id=args.get("team_id"),
            reason=args.get("reason"),
        )
        detail = case_file.case_detail(db.session, principal, case_id, pii_cipher())
        etag = case_etag(db.session.get(Case, case_id))
        db.session.commit()
        return with_etag(detail, etag)


@blp.route("/<int:case_id>/reveal")
class CaseReveal(MethodView):
    @auth_required(*REVEALERS)
    @blp.arguments(RevealSchema)
    @blp.response(
        200,
        RevealedSchema,
        headers={"Cache-Control": {"description": "no-store", "schema": {"type": "string"}}},
    )
    @blp.alt_response(404, description="No such case")
    @blp.alt_response(
        422,
        description="Purpose missing, unknown, or not 10-400 characters; or `rule_breach` "
        "(`contacts_when_unreachable`): third parties' phones asked for while the debtor is "
        "not marked unreachable",
    )
    def post(self, args, case_id):
        """Reveal the debtor's full national ID and phones, for a stated purpose

        For legal staff and administrators: the debtor's national ID, mobile, home and work
        phones and the guarantors' phones, in full; other contacts' (third parties') phones
        with `include_third_parties`, only once the debtor is marked unreachable. Audited as
        `case.reveal` with the purpose code and text; the answer must not be cached
        (`Cache-Control: no-store`). Other roles get 403, whichever case they name."""
        revealed = reveal_personal_data(
            db.session,
            current_principal(),
            case_id,
            pii_cipher(),
            purpose_code=args["purpose_code"],
            purpose=args["purpose"],
            include_third_parties=args["include_third_parties"],
        )
        db.session.commit()
        return revealed, 200, {"Cache-Control": "no-store"}
