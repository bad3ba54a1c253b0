"""`fieldvisit serve`: gunicorn in front of the app (one command for the embedded default).

Two instances share a host when each has its own bind, pid file and control socket (gunicorn
25.1+ opens a control socket for `gunicornc`, by default one path per user: a second instance
would take it over). Unless told otherwise, the control socket is named after the first bind,
so instances on distinct binds never share one."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click


def default_control_socket(bind: str) -> Path:
    from api.config import DEFAULT_VAR

    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", bind.removeprefix("unix:")).strip("_")
    return DEFAULT_VAR / "run" / f"gunicorn-{slug}.ctl"


@click.command("serve")
@click.option("--bind", "-b", "binds", multiple=True, default=["127.0.0.1:8000"],
              show_default=True,
              help="HOST:PORT or unix:PATH to listen on; repeat to listen on several.")
@click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker.")
@click.option("--timeout", default=60, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds a worker may be silent (a long request) before it is restarted.")
@click.option("--pid", "pidfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the server's process id to this file (stop: kill -TERM $(cat FILE)).")
@click.option("--control-socket", type=click.Path(dir_okay=False, path_type=Path),
              help="gunicorn's control socket for `gunicornc -s PATH` "
                   "[default: var/run/gunicorn-<first bind>.ctl].")
@click.option("--no-control-socket", is_flag=True, help="Open no control socket.")
@click.option("--worker-tmp-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Where workers keep their heartbeat files; a memory filesystem such as "
                   "/dev/shm in containers (gunicorn's default: the system temp directory).")
@click.option("--name", default="fieldvisit", show_default=True,
              help="Process name, as `ps` shows it (tell instances apart).")
def command(binds: tuple[str, ...], workers: int, threads: int, timeout: int,
            pidfile: Path | None, control_socket: Path | None, no_control_socket: bool,
            worker_tmp_dir: Path | None, name: str):
    """Serve the API with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from api import create_app
    from api.config import Config, ConfigError
    from api.keys import InsecureConfiguration, check_keys
    from api.metrics import forget_worker_metrics
    from api.observability import gunicorn_logconfig

    try:  # refuse here, once, rather than in every worker
        config = Config.from_env()
        check_keys(config)
    except (ConfigError, InsecureConfiguration) as exc:
        raise click.ClickException(str(exc)) from exc
    if workers > 1 and config.ratelimit_storage_uri.startswith("memory://"):
        click.echo(f"note: each of the {workers} workers counts wrong passwords on its own; "
                   "set FIELDVISIT_RATELIMIT_STORAGE_URI=redis://... to share the counts")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        click.echo("note: /metrics shows only the worker that answers; set "
                   "PROMETHEUS_MULTIPROC_DIR to an empty directory to add up all workers")
    control = None if no_control_socket else (control_socket or default_control_socket(binds[0]))
    if control is not None:
        control.parent.mkdir(parents=True, exist_ok=True)

    class Server(BaseApplication):
        def load_config(self):
            settings = {
                "bind": list(binds),
                "workers": workers,
                "threads": threads,
                "timeout": timeout,
                "proc_name": name,
                "pidfile": str(pidfile.resolve()) if pidfile else None,
                "worker_tmp_dir": str(worker_tmp_dir) if worker_tmp_dir else None,
                "control_socket_disable": control is None,
                # The app logs each request as JSON (api/observability.py): no access log here.
                "logconfig_dict": gunicorn_logconfig(config.log_level),
                "child_exit": forget_worker_metrics,
            }
            if control is not None:
                settings["control_socket"] = str(control.resolve())
            for key, value in settings.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self):
            return create_app()

    shown = ", ".join(b if b.startswith("unix:") else f"http://{b}" for b in binds)
    click.echo(f"{name} listening on {shown} (API docs at /docs"
               + (f"; control socket {control}" if control else "") + ")")
    Server().run()
