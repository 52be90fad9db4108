"""Where the ``superflow`` command finds its data folder, and the web app's address
that ``superflow web`` notes there for the commands that print links."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from superflow.config import Config

DATA_ENV = ("SUPERFLOW_DATA_DIR", "SUPERFLOW_DATA")
WEB_ADDRESS = "web-address"
"""The file in the data folder where ``superflow web`` notes the address it serves."""


def _uses_data_folder(config: Config) -> bool:
    """Whether this configuration keeps anything in the data folder: the embedded
    Redis, the local CRM's file, or the stored secret key."""
    local_crm = config.crm == "local" and not config.setting("local_crm_path")
    return not config.redis_url or local_crm or not config.secret_key


def check_data_folder(
    config: Config, may_start: bool = False, environ: Mapping[str, str] | None = None
) -> None:
    """Refuse to start an empty data folder by accident.

    With no ``SUPERFLOW_DATA_DIR``, the data folder is ``./superflow-data`` of the
    folder the command runs in; run elsewhere, a command would quietly start a new,
    empty Redis and CRM there.  So when none is found, a command stops and says where
    it looked and how to point at one — unless it is one that starts a data folder
    (``may_start``: ``worker``, ``users create``, ``crm seed``, ``crm person add``),
    which then says that it made one."""
    env = os.environ if environ is None else environ
    folder = Path(config.data_dir).absolute()
    if any(env.get(name) for name in DATA_ENV) or folder.exists() or not _uses_data_folder(config):
        return
    if may_start:
        click.echo(f"note: no data folder here; starting a new one at {folder}", err=True)
        return
    raise click.ClickException(
        f"no data folder at {folder}: superflow keeps its data in ./superflow-data of the folder "
        "you run it in. Run the command in the folder where you ran 'superflow demo' or "
        "'superflow web', or point at the data folder with SUPERFLOW_DATA_DIR=/path/to/superflow-data."
    )


def record_web_address(config: Config) -> None:
    """Note the address ``superflow web`` serves, for commands that print links."""
    folder = Path(config.data_dir)
    if not folder.exists() and not _uses_data_folder(config):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / WEB_ADDRESS).write_text(config.base_url + "\n")
    except OSError as exc:
        click.echo(f"note: could not note the web app's address in {folder}: {exc}", err=True)


def web_address(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """The address people reach the web app at: ``SUPERFLOW_BASE_URL`` if set, else
    the one ``superflow web`` noted in the data folder, else the configured default
    (with a note on standard error that it is a guess)."""
    env = os.environ if environ is None else environ
    if env.get("SUPERFLOW_BASE_URL"):
        return config.base_url.rstrip("/")
    try:
        noted = (Path(config.data_dir) / WEB_ADDRESS).read_text().strip()
    except OSError:
        noted = ""
    if noted:
        return noted.rstrip("/")
    click.echo(
        f"note: the web app's address is not known (no 'superflow web' has run on this data folder and "
        f"SUPERFLOW_BASE_URL is not set); assuming {config.base_url}",
        err=True,
    )
    return config.base_url.rstrip("/")
