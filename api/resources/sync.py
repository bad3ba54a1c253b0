"""Offline sync for collectors' phones: pull the slice, push the outbox (docs/sync.md)."""

import gzip
from functools import partial

from flask import current_app, jsonify, make_response, request
from flask.views import MethodView

from api import metrics
from api.auth import auth_required, current_principal, token_service
from api.extensions import Blueprint, db
from api.models import Role
from api.models.types import utcnow
from api.services.compliance.policies import phone_policies
from api.services.exceptions import Forbidden
from api.services.identity import audit
from mobile_sync.pull import pull
from mobile_sync.push import PushEnvironment, push
from mobile_sync.reference import reference_data
from mobile_sync.registry import MUTATIONS
from schemas.sync import (
    MAX_PUSH_BYTES,
    PullArgsSchema,
    PullPageSchema,
    PushResultSchema,
    PushSchema,
)

blp = Blueprint("sync", __name__, url_prefix="/sync", description="Offline sync for phones")


@blp.route("/pull")
class Pull(MethodView):
    @auth_required(Role.COLLECTOR)
    @blp.arguments(PullArgsSchema, location="query")
    @blp.response(200, PullPageSchema)
    @blp.alt_response(410, description="Reset: drop local cases, keep the outbox, bootstrap")
    def get(self, args):
        """Pull the next page of this device's cases (no cursor: bootstrap). gzip on request"""
        principal = current_principal()
        page = pull(
            db.session,
            user_id=principal.user_id,
            device_id=principal.device_id,
            cipher=current_app.extensions["fieldvisit.pii"],
            cursor=args.get("cursor"),
            limit=args["limit"],
            ref_version=args.get("ref_version"),
            reference_data=lambda: reference_data(phone_policies(db.session, utcnow())),
        )
        body = page.body
        metrics.record_pull(len(body), page.changes, bootstrap="cursor" not in args)
        if page.puts:  # personal data sent: audited; a remove or nothing is not
            audit.record(db.session, principal, "sync.pull", detail={"bytes": len(body)})
        db.session.commit()
        response = make_response(body)
        response.mimetype = "application/json"
        response.vary.add("Accept-Encoding")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(gzip.compress(body, compresslevel=6))
            response.headers["Content-Encoding"] = "gzip"
        return response


@blp.route("/push")
class Push(MethodView):
    owns_transactions = True  # one transaction per batch (mobile_sync.push)

    @auth_required(Role.COLLECTOR, Role.SUPERVISOR)
    @blp.body_limit(MAX_PUSH_BYTES)
    @blp.arguments(PushSchema)
    @blp.response(200, PushResultSchema)
    @blp.alt_response(503, description="Transient failure: results so far, retry after a while")
    def post(self, args):
        """Push mutations from the outbox: one result per mutation, each applied exactly once

        A collector files for the cases they hold (or held: kept and flagged
        `case_reassigned`), a supervisor for the cases of their team; any other case is
        `rejected` with `not_found`."""
        principal = current_principal()
        if str(args["device_id"]) != principal.device_id:
            raise Forbidden(
                "device_id is not the device this token was issued to.",
                fields={"device_id": ["not this token's device"]},
            )
        cfg = current_app.config["FIELDVISIT"]
        env = PushEnvironment(
            cipher=current_app.extensions["fieldvisit.pii"],
            blobs=current_app.extensions["fieldvisit.blobs"],
            verify_cosign=partial(token_service().verify_cosign, device_id=principal.device_id),
            lock_timeout_ms=cfg.sync_lock_timeout_ms,
        )
        outcome = push(
            db.session,
            filer=principal,
            mutations=args["mutations"],
            env=env,
            device_time=args.get("device_time"),
        )
        metrics.record_push(args["mutations"], outcome.results, args.get("device_time"), MUTATIONS)
        body = {"results": outcome.results, "last_mutation_id": outcome.last_mutation_id}
        if outcome.retry_after is None:
            return body
        body["error"] = {
            "status": 503,
            "code": "temporarily_unavailable",
            "message": "The server could not apply every mutation; retry.",
        }
        response = jsonify(body)
        response.status_code = 503
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
