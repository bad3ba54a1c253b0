"""Prometheus metrics (prometheus_client), served at `GET /metrics` (not in the API spec).

- `fieldvisit_http_request_duration_seconds{method,route,status}`: latency by route rule;
- `fieldvisit_sync_push_mutations_total{type,outcome}`: applied, duplicate, rejected, gap,
  not_applied per mutation type;
- `fieldvisit_sync_push_lag_seconds{type}`: how late field records reach the server: the
  phone's send time minus the record's `client_time`, both on the phone's clock (so a skewed
  clock does not distort it); the server's clock when the push has no `device_time`;
- `fieldvisit_sync_pull_bytes{page}` and `fieldvisit_sync_pull_changes{page}`: pull page sizes
  (page: bootstrap or delta);
- computed at scrape time by one query: `fieldvisit_evidence_uploads_pending` (files declared
  whose bytes have not arrived) and `fieldvisit_evidence_oldest_pending_upload_age_seconds`.

Several gunicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty directory before
`fieldvisit serve` starts; each worker writes its samples there and `/metrics`, whichever worker
answers, adds them up. Access: open, unless `FIELDVISIT_METRICS_TOKEN` (a bearer token) or
`FIELDVISIT_METRICS_NETWORKS` (client networks) is set; either then admits."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from api.extensions import db

METRICS_PATH = "/metrics"
OUTCOMES = ("applied", "duplicate", "rejected", "gap", "not_applied")

REQUEST_SECONDS = Histogram(
    "fieldvisit_http_request_duration_seconds",
    "Time to answer a request, by route rule",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PUSHED = Counter(
    "fieldvisit_sync_push_mutations",
    "Pushed mutations by type and outcome",
    ["type", "outcome"],
)
PUSH_LAG = Histogram(
    "fieldvisit_sync_push_lag_seconds",
    "From a field record's client_time to its push (phone's clock)",
    ["type"],
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
PULL_BYTES = Histogram(
    "fieldvisit_sync_pull_bytes",
    "Size of a pull page (uncompressed JSON)",
    ["page"],
    buckets=(1e3, 1e4, 1e5, 5e5, 1e6, 5e6, 2e7),
)
PULL_CHANGES = Histogram(
    "fieldvisit_sync_pull_changes",
    "Changes in a pull page",
    ["page"],
    buckets=(0, 1, 10, 50, 100, 250, 500, 1000, 5000),
)


def install(app: Flask) -> None:
    app.add_url_rule(METRICS_PATH, "metrics", _metrics_view, methods=["GET"])


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One sample; a method outside HTTP's own is `OTHER` (a client cannot add series)."""
    label = method if method in HTTP_METHODS else "OTHER"
    REQUEST_SECONDS.labels(label, route, str(status)).observe(seconds)


def record_push(
    mutations: Iterable[Mapping], results: Iterable[Mapping], device_time: datetime | None,
    known_types: Iterable[str],
) -> None:
    """Count each result by its mutation's type (an unknown type counts as `unknown`)."""
    known = set(known_types)
    sent_at = device_time or datetime.now(UTC)
    for mutation, result in zip(mutations, results, strict=False):
        kind = mutation.get("type") if mutation.get("type") in known else "unknown"
        PUSHED.labels(kind, result.get("status", "unknown")).inc()
        client_time = mutation.get("client_time")
        if result.get("status") == "applied" and isinstance(client_time, datetime):
            PUSH_LAG.labels(kind).observe(max(0.0, (sent_at - client_time).total_seconds()))


def record_pull(size: int, changes: int, *, bootstrap: bool) -> None:
    """A pull page of `size` bytes of JSON carrying `changes`."""
    page = "bootstrap" if bootstrap else "delta"
    PULL_BYTES.labels(page).observe(size)
    PULL_CHANGES.labels(page).observe(changes)


class _Live:
    """Gauges computed when scraped, from the database."""

    def collect(self):
        from api.models import EvidenceFile
        from api.models.evidence import UploadStatus

        pending, oldest = db.session.execute(
            select(func.count(), func.min(EvidenceFile.declared_at)).where(
                EvidenceFile.status == UploadStatus.PENDING
            )
        ).one()
        db.session.rollback()
        yield GaugeMetricFamily(
            "fieldvisit_evidence_uploads_pending",
            "Evidence files declared whose bytes have not arrived",
            value=pending,
        )
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        yield GaugeMetricFamily(
            "fieldvisit_evidence_oldest_pending_upload_age_seconds",
            "Age of the oldest evidence file still waiting for its bytes (0: none)",
            value=age,
        )


class _Process:
    """This process's metrics (or, in multiprocess mode, every worker's)."""

    def collect(self):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            yield from registry.collect()
        else:
            yield from REGISTRY.collect()


def forget_worker_metrics(_server, worker) -> None:
    """gunicorn `child_exit`: a dead worker's live gauges leave the multiprocess files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _allowed() -> bool:
    config = current_app.config["FIELDVISIT"]
    networks = [n.strip() for n in config.metrics_networks.split(",") if n.strip()]
    if not config.metrics_token and not networks:
        return True
    if config.metrics_token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if hmac.compare_digest(offered.encode(), config.metrics_token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def _metrics_view():
    if not _allowed():
        from api.errors import error_response

        return error_response(403, "Metrics are open to the monitoring network or token only.")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Process())
    registry.register(_Live())
    response = Response(generate_latest(registry), headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
