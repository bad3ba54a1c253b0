"""Logs and metrics: `install(app)` once in create_app.

Logs are JSON lines on stderr (python-json-logger: a stdlib `logging.Formatter`, so every
module's `logging.getLogger(__name__)`, gunicorn's own logger and pytest's caplog keep working
unchanged). Each request gets an id (the client's `X-Request-Id` when it is a short token, else
a fresh one), echoed in the response header and stamped on every line logged while it runs,
with the caller's user and device ids. One line per request: method, route rule (with the
numeric/UUID path arguments as `path_args`), status and duration. Never the raw path or the query
string (they may carry a national ID or a phone number), never a username.

Metrics: see api/metrics.py."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from api import metrics

log = logging.getLogger("fieldvisit.request")
PROBE_ROUTES = ("/healthz", "/readyz")

REQUEST_ID_HEADER = "X-Request-Id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Logged path arguments: numbers and UUIDs only (a blob key or a name is not logged).
SAFE_ARG = re.compile(r"\d{1,19}|[0-9a-fA-F-]{32,36}")
HANDLER_NAME = "fieldvisit.json"
UNMATCHED_ROUTE = "<unmatched>"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class RequestContext(logging.Filter):
    """Stamps the request id, user id and device id on records logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            principal = g.get("principal")
            if principal is not None:
                record.user_id = principal.user_id
                record.device_id = principal.device_id
        return True


def configure_logging(level: str = "INFO") -> logging.Handler:
    """One JSON handler on the root logger (idempotent: several apps in one process)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(json_formatter())
        handler.addFilter(RequestContext())
        root.addHandler(handler)
    root.setLevel(level)
    return handler


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's own log (start-up, worker deaths) as JSON too; its access log is off: the
    app logs each request with more (request id, user, route rule)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": []},  # the app adds its own (configure_logging)
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": level,
                                       "propagate": False}},
    }


def install(app: Flask) -> None:
    """Request ids, the request log, and request metrics; call before other hooks."""
    config = app.config["FIELDVISIT"]
    configure_logging(config.log_level)
    app.before_request(_start)
    app.after_request(_finish)
    metrics.install(app)


def _start() -> None:
    g.request_started = time.perf_counter()
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    if "request_id" not in g:  # a hook before ours answered
        _start()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    duration = time.perf_counter() - g.request_started
    route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
    if route == metrics.METRICS_PATH:
        return response
    metrics.observe_request(request.method, route, response.status_code, duration)
    if route in PROBE_ROUTES and response.status_code < 400:
        return response  # a load balancer asks every few seconds: only failures are news
    args = {k: v for k, v in (request.view_args or {}).items() if SAFE_ARG.fullmatch(str(v))}
    log.info(
        "%s %s %s", request.method, route, response.status_code,
        extra={"method": request.method, "route": route, "path_args": args or None,
               "status": response.status_code, "duration_ms": round(duration * 1000, 1)},
    )
    return response
