"""Retention runs as background jobs (administrators): what `fieldvisit compliance purge` does,
in chunks that commit, with progress and a cancel (docs/retention.md, docs/jobs.md)."""

from flask.views import MethodView

from api import jobs
from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.jobs import access
from api.jobs.retention_purge import KIND
from api.models import Role
from schemas.jobs import JobSchema, PurgeRunSchema

blp = Blueprint("retention", __name__, description="Retention runs (administrators)")


@blp.route("/compliance/purge-runs")
class PurgeRuns(MethodView):
    @auth_required(Role.ADMIN)
    @blp.arguments(PurgeRunSchema)
    @blp.response(202, JobSchema)
    def post(self, args):
        """Start a retention run: purge closed cases past their period (or a dry run)

        Answers with the `retention_purge` job (`Location: /jobs/{id}`): it judges the cases
        not yet purged in chunks of 200, committing each (progress counts cases), and can be
        cancelled (`POST /jobs/{id}/cancel`); what was committed stays and the next run takes up
        the rest. Its result: counts, kept cases by reason, and the purged case and anonymised
        debtor ids. Audited as `compliance.purge` (one row per chunk that purged, and one for
        the run)."""
        job = jobs.enqueue(db.session, KIND, {"dry_run": args["dry_run"]},
                           actor_id=current_principal().user_id)
        db.session.commit()
        return access.describe(job), 202, {"Location": f"/jobs/{job.id}"}
