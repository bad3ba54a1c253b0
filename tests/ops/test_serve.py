"""Two `fieldvisit serve` instances on one host: each its own port, pid file and control socket;
both answer, and each stops by its pid file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.commands.keys import command as keys_command
from tests.conftest import ROOT

START_TIMEOUT_S = 30
BIN = Path(sys.executable).parent
FIELDVISIT = str(BIN / "fieldvisit")


def get(url: str) -> tuple[int, dict]:
    """Status and JSON body of a GET (an error status is an answer, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    keys = CliRunner().invoke(keys_command, ["new"])  # what `fieldvisit keys new` prints
    env = _base_env()
    env.update(line.split("=", 1) for line in keys.output.split())
    env.update(FIELDVISIT_DATABASE_URL=database_url,
               FIELDVISIT_BLOB_STORE=f"local:{tmp_path / 'blobs'}",
               FIELDVISIT_ARGON2_PROFILE="CHEAPEST",
               FIELDVISIT_VAR_DIR=str(tmp_path / "var"))
    return env


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVISIT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


class Instance:
    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]):
        self.port = free_port()
        self.pidfile = tmp_path / f"{name}.pid"
        self.control = tmp_path / f"{name}.ctl"
        self.log = (tmp_path / f"{name}.log").open("w+")
        self.process = subprocess.Popen(
            [FIELDVISIT, "serve", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--threads", "2", "--name", f"fieldvisit-{name}",
             "--pid", str(self.pidfile), "--control-socket", str(self.control)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited {self.process.returncode}: {self.output()}")
            try:
                if get(f"{self.url}/healthz")[0] == 200:
                    return
            except OSError:  # not listening yet
                time.sleep(0.2)
        pytest.fail(f"server did not answer within {START_TIMEOUT_S} s: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def instances(database_url, tmp_path):
    env = server_env(database_url, tmp_path)
    started = [Instance(name, tmp_path, env) for name in ("blue", "green")]
    yield started
    for instance in started:
        instance.stop()


def test_two_instances_share_a_host(instances):
    for instance in instances:
        instance.wait_until_up()
    blue, green = instances

    for instance in instances:
        assert get(f"{instance.url}/healthz") == (200, {"status": "ok"})
        status, ready = get(f"{instance.url}/readyz")
        assert status == 200, ready
        pid = int(instance.pidfile.read_text())
        assert pid == instance.process.pid
        workers = subprocess.run(
            [str(BIN / "gunicornc"), "-s", str(instance.control),
             "-c", "show workers", "-j"], capture_output=True, text=True, timeout=10)
        assert workers.returncode == 0, workers.stderr
        assert len(json.loads(workers.stdout)["workers"]) == 1

    blue_pid = int(blue.pidfile.read_text())
    os.kill(blue_pid, signal.SIGTERM)  # stop one by its pid file: the other keeps serving
    assert blue.process.wait(timeout=30) == 0
    assert not blue.pidfile.exists()
    assert get(f"{green.url}/healthz")[0] == 200
    assert "/healthz" not in green.output()  # probes are not in the access log
