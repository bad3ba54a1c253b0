"""The committed console build (api/console_static) is the build of the committed sources:
`npm run build` in console/ writes the sources' digest next to what it built."""

from __future__ import annotations

import hashlib
import re

from api.console import STATIC
from tests.conftest import ROOT

SOURCES = ROOT / "console"


def sources_digest() -> str:
    """What console/stamp.mjs computes: SHA-256 over every file under console/ but
    node_modules/, in path order, each as `path NUL bytes NUL`."""
    digest = hashlib.sha256()
    paths = sorted(p.relative_to(SOURCES).as_posix() for p in SOURCES.rglob("*")
                   if p.is_file() and "node_modules" not in p.relative_to(SOURCES).parts)
    for path in paths:
        digest.update(path.encode() + b"\0" + (SOURCES / path).read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_committed_build_is_of_the_committed_sources():
    stamped = (STATIC / "SOURCES.sha256").read_text().strip()
    assert stamped == sources_digest(), (
        "api/console_static is stale: run `npm ci && npm run build` in console/ and commit it")


def test_the_page_loads_only_files_of_the_build():
    page = (STATIC / "index.html").read_text()
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP allows none
    files = re.findall(r'(?:src|href)="/console/(assets/[^"]+)"', page)
    assert {f.rsplit(".", 1)[1] for f in files} == {"js", "css"}
    for name in files:
        assert (STATIC / name).is_file(), name
    assert "http" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', page))  # no CDN
