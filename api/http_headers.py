"""Headers on every response: nothing that carries personal data is stored by a browser or a
proxy, and the browser is told to run nothing, frame nothing and leak no referrer.

The caching rule is the simplest honest one: every response is `Cache-Control: no-store` (and
`Pragma: no-cache` for HTTP/1.0 caches), authenticated or not (token answers and error bodies
too), except the public API documentation: the docs page, the OpenAPI document and the docs UI's
own static files, which carry what Flask gives them (revalidated with their ETag).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

import flask_swagger_ui
from flask import Blueprint, Flask, Response, current_app, request

DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = "/docs/ui"  # the Swagger UI dist of the `flask-swagger-ui` package
DOCS_ASSETS = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
PUBLIC_ENDPOINTS = {"api-docs.openapi_swagger_ui", "api-docs.openapi_json", "docs_ui.static"}

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def docs_policy(page: bytes) -> str:
    """The docs page's policy: its own scripts and the page's inline bootstrap (by hash, so no
    'unsafe-inline' for scripts), inline styles (Swagger UI sets them), and requests to itself."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def hsts_wanted() -> bool:
    """Over HTTPS, or when the settings force it (TLS ended by a proxy in front)."""
    return request.is_secure or current_app.config["FIELDVISIT"].force_hsts


def secure_response(response: Response) -> Response:
    response.headers.update(FIXED)
    if request.endpoint == "api-docs.openapi_swagger_ui":
        response.headers["Content-Security-Policy"] = docs_policy(response.get_data())
    elif request.endpoint == "console.page":
        pass  # the console's page sets its own policy (api/console.py)
    else:
        response.headers["Content-Security-Policy"] = JSON_POLICY
    if request.endpoint not in PUBLIC_ENDPOINTS:
        if "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    if hsts_wanted():
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def docs_settings() -> dict:
    """flask-smorest settings for Swagger UI served from the app (no CDN, no validator badge
    calling out)."""
    return {
        "OPENAPI_SWAGGER_UI_PATH": DOCS_PATH,
        "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS_PATH + "/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    }


def install(app: Flask) -> None:
    """Serve the docs UI's files and add the headers to every response (errors included)."""
    app.register_blueprint(
        Blueprint("docs_ui", __name__, static_folder=DOCS_ASSETS, static_url_path=DOCS_ASSETS_PATH)
    )
    app.after_request(secure_response)
