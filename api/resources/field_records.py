"""What the field recorded, read back: lists and details of visit reports, promises, receipts,
notices served, vehicle sightings and repossessions, for everyone who may see the case."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.services.fieldwork import records
from schemas import records as s
from schemas.common import page_meta

blp = Blueprint(
    "field_records", __name__, description="Field records read back (visits, promises, ...)"
)

COMMON = ("team_id", "collector_id", "case_id", "sort", "page", "page_size")


def _filters(args: dict) -> records.RecordFilters:
    return records.RecordFilters(
        team_id=args.get("team_id"),
        collector_id=args.get("collector_id"),
        case_id=args.get("case_id"),
        extra={k: v for k, v in args.items() if k not in COMMON},
        sort=args["sort"],
        page=args["page"],
        page_size=args["page_size"],
    )


def _routes(path, query, page, detail, list_doc: str, detail_doc: str) -> None:
    """A list route and a detail route for one kind of record (`KINDS[path]`)."""
    kind = records.KINDS[path]

    class Listing(MethodView):
        @auth_required()
        @blp.arguments(query, location="query")
        @blp.response(200, page)
        def get(self, args):
            items, total = records.list_records(
                db.session, current_principal(), kind, _filters(args)
            )
            db.session.commit()
            return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}

    class Detail(MethodView):
        @auth_required()
        @blp.response(200, detail)
        @blp.alt_response(404, description=f"No such {kind.label}, or not yours to see")
        def get(self, record_id):
            found = records.record_detail(db.session, current_principal(), kind, str(record_id))
            db.session.commit()
            return found

    Listing.get.__doc__, Detail.get.__doc__ = list_doc, detail_doc
    blp.route(f"/{path}", endpoint=f"{path}_list")(Listing)
    blp.route(f"/{path}/<uuid:record_id>", endpoint=f"{path}_detail")(Detail)


AUDITED = "(the read is audited)"
_routes(
    "visits",
    s.VisitQuerySchema,
    s.VisitPageSchema,
    s.VisitDetailSchema,
    f"List the visit reports of the cases you may see, by team, collector, case, "
    f"debtor-local day, outcome, flag or geofence verdict {AUDITED}",
    "A visit report: its fixes, distance and geofence verdict, flags, co-collectors and "
    f"whether they were attested, evidence files and their upload state, corrections {AUDITED}",
)
_routes(
    "promises",
    s.PromiseQuerySchema,
    s.PromisePageSchema,
    s.PromiseDetailSchema,
    f"List repayment promises with their status and the amount still due {AUDITED}",
    f"A repayment promise: plan, signer (ID masked to the last 4), PDF and files {AUDITED}",
)
_routes(
    "receipts",
    s.ReceiptQuerySchema,
    s.ReceiptPageSchema,
    s.ReceiptDetailSchema,
    f"List field receipts (money taken in the field) {AUDITED}",
    f"A field receipt and its photo {AUDITED}",
)
_routes(
    "notices",
    s.NoticeQuerySchema,
    s.NoticePageSchema,
    s.NoticeDetailSchema,
    f"List notices served (proof of service) {AUDITED}",
    f"A notice served and its acknowledgement photo {AUDITED}",
)
_routes(
    "sightings",
    s.SightingQuerySchema,
    s.SightingPageSchema,
    s.SightingDetailSchema,
    f"List vehicle sightings with whether VIN, engine number and plate matched the file {AUDITED}",
    f"A vehicle sighting and its photos {AUDITED}",
)
_routes(
    "repossessions",
    s.RepossessionQuerySchema,
    s.RepossessionPageSchema,
    s.RepossessionDetailSchema,
    f"List repossessions (拖车) {AUDITED}",
    f"A repossession and its photos {AUDITED}",
)
