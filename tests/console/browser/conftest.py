"""Browser tests of the web console: one real `fieldvisit serve` per engine, seeded
through the real services and API, driven with Playwright in Debian's chromium (installed by
scripts/setup; Playwright downloads no browser).

`console` is a fresh browser context per test whose page fails the test on any console error,
uncaught exception, failed request or error status the test did not declare with
`console.expect(status, path)`. `console.shot(name)` saves a screenshot under
var/screenshots/<engine>/ (git-ignored)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner

from api import create_app
from api.commands.keys import command as keys_command
from api.config import Config
from api.extensions import db
from tests.conftest import ROOT, wipe
from tests.console.browser.seeds import Seeded, seed, seed_admin_screens
from tests.factories import PASSWORD, World
from tests.ops.test_serve import Instance, server_env

SCREENSHOTS = ROOT / "var" / "screenshots"
# The console's own files, and the public API: every path of openapi.yaml, `{x}` any segment
# (a blob's `{key}` is a path of several).
PUBLIC = [re.compile(r"/console/.*")] + [
    re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path).replace(r"\{key\}", ".+")))
    for path in yaml.safe_load((ROOT / "openapi.yaml").read_text())["paths"]]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOAD_FAILED = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def call(server: Seeded, method: str, path: str, body: dict | None = None,
         token: str | None = None) -> tuple[int, dict]:
    """The API over HTTP, as any client: status and JSON body."""
    request = urllib.request.Request(
        server.url + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def token(server: Seeded, username: str) -> str:
    status, body = call(server, "POST", "/auth/login", {
        "username": username, "password": PASSWORD,
        "device": {"id": str(uuid.uuid4()), "label": "test", "platform": "test"}})
    assert status == 200, body
    return body["access_token"]


@pytest.fixture(scope="package")
def server(database_url, tmp_path_factory) -> Seeded:
    """`fieldvisit serve` on this engine's database, seeded, shared by the package's tests (they
    leave the seeded cases and route as a later test needs them); every row removed after."""
    tmp = tmp_path_factory.mktemp("console")
    seeded: dict = {}
    keys = dict(line.split("=", 1) for line in
                CliRunner().invoke(keys_command, ["new"]).output.split())
    env = server_env(database_url, tmp)
    env.update(keys)
    seeder = create_app(Config(
        database_url=database_url, blob_store=env["FIELDVISIT_BLOB_STORE"],
        secret_key=keys["FIELDVISIT_SECRET_KEY"], pii_key=keys["FIELDVISIT_PII_KEY"],
        pii_lookup_key=keys["FIELDVISIT_PII_LOOKUP_KEY"], audit_key=keys["FIELDVISIT_AUDIT_KEY"],
        argon2_profile="CHEAPEST", job_retry_backoff_ms=20))  # failed_thumbnail's retries
    instance = Instance("console", tmp, env)
    try:
        with seeder.app_context():
            world = World(seeder, seeder.test_client())
            seeded = seed(world)
            seeded["admin_seed"] = seed_admin_screens(world)
            db.session.remove()
        instance.wait_until_up()
        yield Seeded(url=instance.url, engine=database_url.split(":", 1)[0].split("+")[0],
                     env=env, **seeded)
    finally:
        if "admin_seed" in seeded:
            seeded["admin_seed"]["running_import"].release()
        instance.stop()
        with seeder.app_context():
            wipe()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: scripts/setup installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Console:
    """One browser context on the console, watching for anything going wrong in the page."""

    def __init__(self, browser, server: Seeded, test_name: str):
        self.server = server
        self.context = browser.new_context(base_url=server.url, locale="zh-CN", timezone_id="UTC",
                                           viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.expected: list[tuple[int, str]] = []
        self.shots = SCREENSHOTS / server.engine
        self.test_name = re.sub(r"\W+", "-", test_name).strip("-")
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _request(self, request) -> None:
        if request.url.startswith(("data:", f"blob:{self.server.url}/")):
            return
        if not request.url.startswith(self.server.url + "/"):
            self.problems.append(f"a request outside the server: {request.url}")
            return
        path = urlsplit(request.url).path
        if not any(rule.fullmatch(path) for rule in PUBLIC):
            self.problems.append(f"not the public API: {request.method} {path}")

    def _failed(self, request) -> None:
        # The console aborts what a screen no longer needs (a newer load, a screen left): an
        # abort of the page's own fetch is its choice; any other failure is the server's.
        if request.resource_type == "fetch" and request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def expect(self, status: int, path: str) -> None:
        """The test means to provoke `status` from `path` (a prefix of the URL's path)."""
        self.expected.append((status, path))

    def _is_expected(self, status: int, url: str) -> bool:
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        return any(status == s and path.startswith(p) for s, p in self.expected)

    def _response(self, response) -> None:
        if response.status >= 400 and not self._is_expected(response.status, response.url):
            self.problems.append(f"{response.status} from {response.request.method} "
                                 f"{response.url}")

    def _console(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        failed = LOAD_FAILED.search(message.text)
        if failed and self._is_expected(int(failed[1]), message.location.get("url", "")):
            return
        self.problems.append(f"console {message.type}: {message.text}")

    def open(self, hash_path: str = "") -> None:
        self.page.goto(f"/console/{hash_path}")

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        page = self.page
        page.get_by_label(re.compile("用户名|Username")).fill(username)
        page.get_by_label(re.compile("密码|Password")).fill(password)
        page.get_by_role("button", name=re.compile("登录|Sign in")).click()

    def shot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self.test_name}--{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser, server, request):
    watched = Console(browser, server, request.node.name)
    yield watched
    watched.close()
    assert not watched.problems, "the page went wrong:\n" + "\n".join(watched.problems)
