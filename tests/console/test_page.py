"""The console's page and files as the server serves them: a strict CSP with nothing inline,
and the map's tile server (if any) the only other origin allowed."""

from __future__ import annotations

import re

import pytest

from api import create_app
from api.config import Config


def test_the_page_has_a_strict_policy(client):
    assert client.get("/console").status_code == 308
    page = client.get("/console/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert '<meta name="fieldvisit-tiles" content="">' in page.get_data(as_text=True)
    script = re.search(r'src="(/console/assets/[^"]+\.js)"', page.get_data(as_text=True))[1]
    asset = client.get(script)
    assert asset.status_code == 200 and asset.mimetype == "text/javascript"
    assert client.get("/console/assets/nothing.js").status_code == 404
    assert client.get("/console/assets/../index.html").status_code == 404


@pytest.mark.parametrize(("tile_url", "origin"), [
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
    ("http://tiles.local:8080/{z}/{x}/{y}.png", "http://tiles.local:8080"),
])
def test_a_tile_server_is_named_to_the_page(app_config, tile_url, origin):
    config = Config(**{**app_config.__dict__, "console_tile_url": tile_url})
    page = create_app(config).test_client().get("/console/")
    assert f"img-src 'self' data: {origin};" in page.headers["Content-Security-Policy"]
    assert f'content="{tile_url}"' in page.get_data(as_text=True)


def test_a_tile_url_must_be_http():
    from api.config import ConfigError

    with pytest.raises(ConfigError, match="FIELDVISIT_CONSOLE_TILE_URL"):
        Config.from_env({"FIELDVISIT_CONSOLE_TILE_URL": "javascript:alert(1)"})
