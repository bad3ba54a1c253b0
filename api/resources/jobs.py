"""Background jobs: follow one's own (an administrator: every one), and cancel them
(docs/jobs.md)."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.jobs import access
from api.models import Job
from api.pagination import paginate
from schemas.jobs import JobPageSchema, JobQuerySchema, JobSchema

blp = Blueprint("jobs", __name__, description="Background jobs: progress, results, cancel")


@blp.route("/jobs")
class Jobs(MethodView):
    @auth_required()
    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, JobPageSchema)
    def get(self, args):
        """List your jobs, newest first (an administrator: everyone's), by kind or status"""
        stmt = access.visible_jobs(current_principal(), kind=args.get("kind"),
                                   status=args.get("status"))
        page = paginate(db.session, stmt, args, Job.id.desc())
        page["items"] = [access.describe(job) for job in page["items"]]
        return page


@blp.route("/jobs/<int:job_id>")
class JobDetail(MethodView):
    @auth_required()
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="No such job, or not yours")
    def get(self, job_id):
        """Follow a job: its state, progress (`done` of `total`, `percent`), error or result

        Poll it (every second or two) until `status` is `done`, `failed` or `cancelled`."""
        return access.describe(access.get_visible_job(db.session, current_principal(), job_id))


@blp.route("/jobs/<int:job_id>/cancel")
class CancelJob(MethodView):
    @auth_required()
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="No such job, or not yours")
    @blp.alt_response(409, description="`job_finished`: it is already done or failed")
    def post(self, job_id):
        """Cancel a job (its owner or an administrator)

        A queued job is cancelled at once; a running one stops at its next checkpoint
        (`cancel_requested` is true meanwhile), keeping the chunks it committed. Cancelling a
        cancelled job again is harmless."""
        job = access.cancel_job(db.session, current_principal(), job_id)
        db.session.commit()
        return access.describe(job)
