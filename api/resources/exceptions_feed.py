"""The exceptions feed: what went wrong in the field, who should act, and its state."""

from flask import current_app
from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.supervision import exceptions_feed as feed
from schemas.common import page_meta
from schemas.exceptions_feed import (
    AcknowledgeSchema,
    ExceptionItemSchema,
    ExceptionPageSchema,
    ExceptionQuerySchema,
    ResolveSchema,
    ScanResultSchema,
)

blp = Blueprint(
    "exceptions_feed",
    __name__,
    url_prefix="/exceptions",
    description="Exceptions to act on: flagged visits, broken promises, silent phones...",
)

NOT_YOURS = "No such item, or not one you may see"


@blp.route("")
class Exceptions(MethodView):
    @auth_required()
    @blp.arguments(ExceptionQuerySchema, location="query")
    @blp.response(200, ExceptionPageSchema)
    @blp.alt_response(422, description="A filter is invalid")
    def get(self, args):
        """List the exceptions you may see, newest first (a page naming cases is audited)

        Admins and legal staff see every item; a supervisor their team's; a collector the
        items they are to act on themselves (their phone, their uploads, promises on the
        cases they hold). Filter by team, kind and state (both repeatable), case or collector.
        Items are found by a scan (`POST /exceptions/scan`, or `fieldvisit exceptions scan`
        from cron), which also resolves those whose condition has cleared."""
        filters = feed.ExceptionFilters(
            team_id=args.get("team_id"),
            kinds=args.get("kind", []),
            states=args.get("state", []),
            case_id=args.get("case_id"),
            collector_id=args.get("collector_id"),
            page=args["page"],
            page_size=args["page_size"],
        )
        items, total = feed.list_items(db.session, current_principal(), filters)
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}


@blp.route("/<int:exception_id>/acknowledge")
class Acknowledge(MethodView):
    @auth_required()
    @blp.arguments(AcknowledgeSchema)
    @blp.response(200, ExceptionItemSchema)
    @blp.alt_response(403, description="Legal staff act only on the items for legal")
    @blp.alt_response(404, description=NOT_YOURS)
    @blp.alt_response(409, description="Already acknowledged or resolved")
    @blp.alt_response(422, description="The note is too long")
    def post(self, args, exception_id):
        """Acknowledge an open item: you have it in hand (an optional note says how)"""
        item = feed.acknowledge(db.session, current_principal(), exception_id, args["note"])
        db.session.commit()
        return item


@blp.route("/<int:exception_id>/resolve")
class Resolve(MethodView):
    @auth_required(Role.SUPERVISOR, Role.LEGAL, Role.ADMIN)
    @blp.arguments(ResolveSchema)
    @blp.response(200, ExceptionItemSchema)
    @blp.alt_response(403, description="Collectors only acknowledge; legal staff resolve only "
                      "the items for legal")
    @blp.alt_response(404, description=NOT_YOURS)
    @blp.alt_response(409, description="Already resolved")
    @blp.alt_response(422, description="The note is missing, blank or too long")
    def post(self, args, exception_id):
        """Resolve an open or acknowledged item by hand, saying how (`note` is required)

        A resolved item stays resolved; a scan opens it again only for a new occurrence of
        its condition (the phone synced and fell silent again, the next instalment was
        missed)."""
        item = feed.resolve(db.session, current_principal(), exception_id, args["note"])
        db.session.commit()
        return item


@blp.route("/scan")
class Scan(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.response(200, ScanResultSchema)
    def post(self):
        """Scan for exceptions now: a supervisor's covers their team, an admin's every team

        Judges again every pending promise with a date that has passed (so broken promises
        show in the case file and on the phone too), opens an item for each new exception,
        and resolves those whose condition has cleared. Running it twice changes nothing the
        second time. Answers how many items were opened and resolved, by kind."""
        settings = feed.ScanSettings.from_config(current_app.config["FIELDVISIT"])
        result = feed.scan_as(db.session, current_principal(), utcnow(), settings)
        db.session.commit()
        return result.counts
