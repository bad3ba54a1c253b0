"""The web console: the single-page app built from console/ into api/console_static/, served
under /console. It talks to the public API with the same tokens as any client; this module
serves files only.

The page's policy allows its own script and stylesheet and nothing inline; images may also come
from the tile server named by `FIELDVISIT_CONSOLE_TILE_URL` (none by default: the map then draws
its markers and lines on a blank background)."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, send_from_directory

CONSOLE_PATH = "/console"
STATIC = Path(__file__).resolve().parent / "console_static"
TILE_META = '<meta name="fieldvisit-tiles" content="">'

blp = Blueprint("console", __name__, url_prefix=CONSOLE_PATH)


def tile_origin(url: str) -> str:
    """The CSP source of a tile URL template: `https://{s}.tile.example.org/{z}/{x}/{y}.png`
    gives `https://*.tile.example.org`."""
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def page_policy(tile_url: str) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_origin(tile_url)]))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


@blp.get("/")
def page() -> Response:
    """The console's page, with the tile URL it is to use."""
    tile_url = current_app.config["FIELDVISIT"].console_tile_url or ""
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    index = index.replace(
        TILE_META, f'<meta name="fieldvisit-tiles" content="{html.escape(tile_url, quote=True)}">'
    )
    response = Response(index, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page_policy(tile_url)
    return response


@blp.get("/assets/<path:name>")
def asset(name: str) -> Response:
    return send_from_directory(STATIC / "assets", name)
