"""`fieldvisit serve`: gunicorn in front of the app (one command for the embedded default)."""

import os

import click


@click.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
def command(bind: str, workers: int):
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

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            # The app logs each request as JSON (api/observability.py): no access log here.
            self.cfg.set("accesslog", None)
            self.cfg.set("logconfig_dict", gunicorn_logconfig(config.log_level))
            self.cfg.set("child_exit", forget_worker_metrics)

        def load(self):
            return create_app()

    click.echo(f"fieldvisit listening on http://{bind} (API docs at /docs)")
    Server().run()
