"""Files the server makes (a promise's PDF, a photo's thumbnail): an administrator has a failed
one made again (docs/jobs.md "Derived files")."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.jobs import access
from api.models import Role
from api.services.evidence import repair
from mobile_sync.changelog import touch_cases
from schemas.jobs import JobSchema

blp = Blueprint("server_files", __name__, url_prefix="/admin/server-files",
                description="Files the server makes: repair a failed one (administrators)")


@blp.route("/<uuid:file_id>/retry")
class RetryServerFile(MethodView):
    @auth_required(Role.ADMIN)
    @blp.response(202, JobSchema)
    @blp.alt_response(404, description="No file the server makes has this id (`file_id`)")
    @blp.alt_response(409, description="`not_failed`: it is pending or made (`file_id`)")
    def post(self, file_id):
        """Make a failed derived file again (a `server_file_failed` item's `subject_id`)

        For a promise's PDF (the file itself) or a photo's thumbnail (`detail.derived`) whose
        job gave up: once the cause is repaired, the file is `pending` again, its
        `server_error` cleared, and the same job kind asked for, with its retries and backoff
        (`Location: /jobs/{id}`). Audited (`evidence.server_file_retried`, in the file's chain
        of custody). The feed item stays until a scan sees the file made; if the job fails
        again the file is `failed` as before. A promise's phone learns each state from its
        next pull (`open_promises[].pdf_status`)."""
        retried = repair.retry_server_file(db.session, current_principal(), str(file_id))
        if retried.derived == repair.PROMISE_PDF:
            touch_cases(db.session, [retried.slot.case_id])  # the phone's pull: `pending`
        db.session.commit()
        return access.describe(retried.job), 202, {"Location": f"/jobs/{retried.job.id}"}
