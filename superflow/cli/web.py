"""``superflow web``: the web app behind gunicorn (or werkzeug with ``--dev``)."""

from __future__ import annotations

import os
from dataclasses import replace

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context
from superflow.cli.data_folder import record_web_address


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="gunicorn worker processes [default: SUPERFLOW_WEB_WORKERS, else one per core, 2 to 16].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads in each worker; 1: gunicorn's sync worker [default: SUPERFLOW_WEB_THREADS, else 4].",
)
@click.option("--dev", is_flag=True, help="werkzeug's server in one process instead (for debugging).")
@pass_command_context
def web(
    context: CommandContext, host: str, port: int, workers: int | None, threads: int | None, dev: bool
) -> None:
    """Serve the web app with gunicorn (see docs/operators.md, "superflow web")."""
    from superflow import webserver

    config = context.config
    if not os.environ.get("SUPERFLOW_BASE_URL"):
        config = replace(config, base_url=f"http://{_reachable(host)}:{port}")
    record_web_address(config)
    if dev:
        webserver.serve_dev(config, host=host, port=port)
        return
    workers = workers if workers is not None else config.web_workers
    webserver.serve(
        config,
        host=host,
        port=port,
        workers=workers or webserver.default_workers(),
        threads=threads if threads is not None else max(1, config.web_threads),
    )


def _reachable(host: str) -> str:
    """The host part of the address a browser on this machine opens for ``host``."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
