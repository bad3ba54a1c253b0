"""Liveness and readiness probes: no authentication, no audit row, never cached."""

from flask import current_app
from flask.views import MethodView

from api.extensions import Blueprint, db
from api.services.readiness import Readiness
from schemas.health import LivenessSchema, ReadinessSchema

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators")

NOT_READY_RETRY_S = 5
NO_STORE = {"Cache-Control": "no-store"}


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, LivenessSchema)
    def get(self):
        """Liveness: the process answers

        Touches neither the database nor the file store: restart the instance only when
        this fails."""
        return {"status": "ok"}, 200, NO_STORE


@blp.route("/readyz")
class ReadinessProbe(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(
        503, schema=ReadinessSchema,
        description="Not ready: the failing check says why (the database is unreachable or "
        "not at the newest migration, or the file store does not answer); `Retry-After` says "
        "when to ask again. Send no traffic to this instance meanwhile.",
    )
    def get(self):
        """Readiness: the database and the file store can serve

        The database answers and is at the newest migration of this code, and the file store
        answers. Results are reused for up to 3 seconds."""
        readiness = current_app.extensions.get("fieldvisit.readiness")
        if readiness is None:
            readiness = Readiness(current_app.extensions["fieldvisit.blobs"])
            readiness = current_app.extensions.setdefault("fieldvisit.readiness", readiness)
        report = readiness.report(db.engine)
        body = {
            "status": "ready" if report.ok else "not_ready",
            "checks": {c.name: {"state": "ok" if c.ok else "failing", "detail": c.detail}
                       for c in report.checks},
        }
        if report.ok:
            return body, 200, NO_STORE
        return body, 503, {**NO_STORE, "Retry-After": str(NOT_READY_RETRY_S)}
