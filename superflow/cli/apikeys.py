"""``superflow apikeys``: keys for the JSON API (``/api/v1``), shown once, kept hashed."""

from __future__ import annotations

import json
import time

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.group()
def apikeys() -> None:
    """Keys for the JSON API (/api/v1): admin, editor, viewer or events role."""


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "editor", "viewer", "events"]),
    default="viewer",
    show_default=True,
    help="admin: everything; editor: flows, not running them; viewer: read only; events: post events.",
)
@click.option("--rate", default="600/60", show_default=True, help="Requests per seconds, e.g. 6000/60.")
@pass_command_context
def apikeys_create(context: CommandContext, name: str, role: str, rate: str) -> None:
    """Make a key and print it (once: only its hash is kept)."""
    from superflow import apikeys as keys

    try:
        limit, window = (int(part) for part in rate.split("/", 1))
    except ValueError:
        raise click.BadParameter("write it as REQUESTS/SECONDS, e.g. 600/60", param_hint="--rate") from None
    try:
        secret, key = keys.create(context.runtime.redis, name, role, limit=limit, window=window)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret)
    click.echo(f"key {key.id} '{key.name}' ({key.role}, {limit}/{window}s); it is not shown again", err=True)


@apikeys.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_command_context
def apikeys_list(context: CommandContext, as_json: bool) -> None:
    """Every key: id, name, role, rate limit, created and last used (never the key)."""
    from superflow import apikeys as keys

    found = keys.list_keys(context.runtime.redis)
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    click.echo(f"{'ID':12}  {'ROLE':7}  {'RATE':9}  {'CREATED':16}  {'LAST USED':16}  NAME")
    for k in found:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created))
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.last_used)) if k.last_used else "-"
        rate = f"{k.limit}/{k.window}s"
        click.echo(f"{k.id:12}  {k.role:7}  {rate:9}  {created:16}  {used:16}  {k.name}")


@apikeys.command("revoke")
@click.argument("name_or_id")
@pass_command_context
def apikeys_revoke(context: CommandContext, name_or_id: str) -> None:
    """Revoke a key by name or id; it stops working at once."""
    from superflow import apikeys as keys

    try:
        key = keys.revoke(context.runtime.redis, name_or_id)
    except keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked key {key.id} '{key.name}'")
