"""A case's timeline: what the field recorded, what was paid, who held the case."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.services.casefile import timeline
from schemas.common import page_meta
from schemas.timeline import TimelinePageSchema, TimelineQuerySchema

blp = Blueprint(
    "timeline", __name__, url_prefix="/cases", description="A case's history in time order"
)


@blp.route("/<int:case_id>/timeline")
class CaseTimeline(MethodView):
    @auth_required()
    @blp.arguments(TimelineQuerySchema, location="query")
    @blp.response(200, TimelinePageSchema)
    @blp.alt_response(404, description="No such case, or not yours to see")
    def get(self, args, case_id):
        """The case's history, newest first: contact attempts, notes, visits, promises,
        receipts, notices, vehicle sightings, repossessions, field proposals, payments and
        assignments (the read is audited)

        Each entry names its kind, when it happened, who filed it, its flags, a short summary
        and the record's id; no national IDs or phones. Filter with `kind` (repeatable);
        `order=asc` gives oldest first."""
        query = timeline.TimelineQuery(
            kinds=args.get("kind"),
            newest_first=args["order"] == "desc",
            page=args["page"],
            page_size=args["page_size"],
        )
        items, total = timeline.case_timeline(db.session, current_principal(), case_id, query)
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}
