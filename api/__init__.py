"""fieldvisit: the backend that debt-collection field teams run on."""

from __future__ import annotations

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from api import console, http_headers, input_guards, observability
from api.config import Config, absolute_sqlite_url
from api.errors import error_response, register_error_handlers
from api.extensions import Api, AppSession, db
from api.input_guards import request_view
from api.jobs import queue as job_queue
from api.keys import audit_keys, blob_store, check_keys, pii_cipher
from api.services.identity.passwords import configure_password_hashing
from api.services.identity.throttle import PasswordGuard
from mobile_sync import changelog

API_TITLE = "fieldvisit"
API_VERSION = "1.0"

# Content types a body may have, per endpoint; anything else with a body is 415.
JSON_ONLY = ("application/json",)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    check_keys(config)
    app = Flask(__name__)
    app.config.update(
        FIELDVISIT=config,
        TESTING=config.testing,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=absolute_sqlite_url(config.database_url),
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config.database_url),
        MAX_CONTENT_LENGTH=config.max_content_length,
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        **http_headers.docs_settings(),
        API_SPEC_OPTIONS={
            "info": {
                "description": "Case file, offline sync and field evidence for "
                "debt-collection field teams. Errors share one shape: "
                '`{"error": {status, code, message, fields}}`.'
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    observability.install(app)  # JSON logs, request ids, /metrics; before the other hooks
    db.init_app(app)
    configure_password_hashing(config.argon2_profile)
    app.extensions["fieldvisit.pii"] = pii_cipher(config)
    app.extensions["fieldvisit.audit"] = audit_keys(config)
    app.extensions["fieldvisit.blobs"] = blob_store(config, base_url="/blobs")
    app.extensions["fieldvisit.password_guard"] = PasswordGuard(
        config.ratelimit_storage_uri,
        config.login_failures_per_username,
        config.login_failures_per_address,
    )
    if config.forwarded_hops:  # the client address (throttling) is the proxies' X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.forwarded_hops)
    changelog.install(AppSession)
    job_queue.install(app)
    api = Api(app)
    register_error_handlers(app)
    input_guards.install(app)  # before the routes: `<int:...>` is bounded
    http_headers.install(app)
    app.before_request(_check_content_type)
    app.teardown_request(_end_transaction)

    from api.resources import register_blueprints

    register_blueprints(api)
    app.register_blueprint(console.blp)  # the web console's files (no API of its own)
    return app


def _end_transaction(_exc=None):
    """A request's transaction ends with it (routes commit what they mean to keep), also where
    the application context outlives the request (CLI, tests)."""
    db.session.rollback()


def _check_content_type():
    """A body must be JSON unless the endpoint declares other types (`accepts_content`)."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.content_length:
        return None
    view = request_view()
    accepted = getattr(view, "accepts_content", JSON_ONLY)
    if request.mimetype not in accepted:
        return error_response(
            415,
            f"Send the body as {' or '.join(accepted)}, not {request.mimetype or 'nothing'}.",
        )
    return None



def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False},
                "hide_parameters": True}  # tracebacks are logged: no values in them
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, "hide_parameters": True}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: enforce foreign keys, WAL for concurrent readers, and real transactions."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """SQLite: a real BEGIN (IMMEDIATE for a request's transactions: `sqlite_write_intent`)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))
