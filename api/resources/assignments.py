"""Assignment for supervisors: hand over cases in bulk, the unassigned-case queue, and
suggestions of which cases need a field visit and who should go."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.supervision import queue, suggestions
from api.services.supervision.assignment import MAX_CASES, assign_cases
from schemas.assignments import (
    BulkAssignResultSchema,
    BulkAssignSchema,
    QueuePageSchema,
    QueueQuerySchema,
    SuggestionPageSchema,
    SuggestionQuerySchema,
)
from schemas.common import page_meta

blp = Blueprint(
    "assignments",
    __name__,
    url_prefix="/assignments",
    description="Handing cases to collectors: in bulk, from the queue, from suggestions",
)
ASSIGNERS = (Role.SUPERVISOR, Role.ADMIN)


@blp.route("")
class Assignments(MethodView):
    @auth_required(*ASSIGNERS)
    @blp.arguments(BulkAssignSchema)
    @blp.response(200, BulkAssignResultSchema)
    @blp.alt_response(403, description="A supervisor naming another team or its collector")
    @blp.alt_response(
        422,
        description="A case you may not see or that does not exist, a closed case, an inactive "
        "collector or one of another team, a case named twice, more than "
        f"{MAX_CASES} cases: the field is named and the offending case ids listed; a case the "
        "collector may not be sent to (not authorised, open complaint) makes it a `rule_breach` "
        "naming each reason and its cases",
    )
    @blp.alt_response(409, description="Someone else changed one of the cases at the same moment")
    def post(self, args):
        """Assign or reassign up to 1,000 cases at once, all or none

        Supervisors move cases within their own team; administrators anywhere, and between
        teams (`team_id`). `collector_id: null` leaves the cases with the team, unassigned.
        One transaction: if any case cannot be assigned, nothing is, and the 422 lists the
        offending case ids. Each change is kept in the case's history with the reason, and
        the old holder's phone loses the case on its next pull while the new one gains it."""
        outcome = assign_cases(
            db.session,
            current_principal(),
            args["case_ids"],
            collector_id=args["collector_id"],
            team_id=args.get("team_id"),
            reason=args["reason"],
            reason_code=args.get("reason_code"),
        )
        db.session.commit()
        return {
            "assigned": len(outcome.assigned),
            "unchanged": len(outcome.unchanged),
            "assigned_case_ids": outcome.assigned,
            "unchanged_case_ids": outcome.unchanged,
            "team_id": outcome.target.team_id,
            "collector_id": outcome.target.collector_id,
            "reason": outcome.reason,
        }


@blp.route("/queue")
class Queue(MethodView):
    @auth_required(*ASSIGNERS)
    @blp.arguments(QueueQuerySchema, location="query")
    @blp.response(200, QueuePageSchema)
    @blp.alt_response(403, description="A supervisor naming another team")
    def get(self, args):
        """The unassigned-case queue: open cases nobody works, most urgent first (the read is
        audited)

        Open cases with no collector, or held by a deactivated one, ordered by bucket (M3+
        first), a broken latest promise, days past due, then amount overdue. Unlike
        `GET /cases?unassigned=true`, settled and written-off cases are left out."""
        items, total = queue.unassigned_queue(
            db.session,
            current_principal(),
            team_id=args.get("team_id"),
            buckets=args.get("bucket"),
            page=args["page"],
            page_size=args["page_size"],
        )
        db.session.commit()
        return {"items": items, "page": page_meta(args["page"], args["page_size"], total)}


@blp.route("/suggestions")
class Suggestions(MethodView):
    @auth_required(*ASSIGNERS)
    @blp.arguments(SuggestionQuerySchema, location="query")
    @blp.response(200, SuggestionPageSchema)
    @blp.alt_response(403, description="A supervisor naming another team")
    @blp.alt_response(422, description="An administrator without `team_id`, or no such team")
    def get(self, args):
        """Cases of a team that need a field visit, each with the rules that produced it and a
        suggested collector (the read is audited)

        Rules (`rules` lists them with their thresholds): a promise due today or broken,
        the business-debtor playbook's day 0 and day 4 visits, contact lost, calls failed,
        serious arrears without a recent visit. The collector is the team's active collector
        with the lowest cost (km from base to the address + a weight per open case held or
        already suggested above); a case stays with an active holder. To accept, POST the
        case ids and the collector to `/assignments` with `reason` = `accept_reason`."""
        now = utcnow()
        items, total = suggestions.suggest_visits(
            db.session,
            current_principal(),
            team_id=args.get("team_id"),
            rules=args.get("rule"),
            unassigned=args.get("unassigned"),
            page=args["page"],
            page_size=args["page_size"],
            now=now,
        )
        db.session.commit()
        return {
            "as_of": now,
            "rules": suggestions.rule_catalogue(),
            "items": items,
            "page": page_meta(args["page"], args["page_size"], total),
        }
