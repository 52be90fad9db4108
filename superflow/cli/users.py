"""``superflow users``: the people who sign in to the admin screens, and their roles."""

from __future__ import annotations

import click

from superflow.cli.context import CommandContext
from superflow.cli.context import pass_command_context


@click.group()
def users() -> None:
    """People who sign in to the admin screens."""


@users.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["flow_admin", "content_editor", "viewer"]),
    default="viewer",
    show_default=True,
)
@click.option("--password", default=None, help="Default: a new random one, printed once.")
@pass_command_context
def users_create(context: CommandContext, username: str, role: str, password: str | None) -> None:
    """Add a user (the password is stored hashed)."""
    import secrets

    from superflow import users as user_store

    chosen = password or secrets.token_urlsafe(12)
    try:
        user_store.create(context.open_runtime(may_start_data_folder=True).redis, username, chosen, role)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}) created" + ("" if password else f"; password: {chosen}"))


@users.command("list")
@pass_command_context
def users_list(context: CommandContext) -> None:
    """Every user and role (a provider's users with their name and why they have the role)."""
    from superflow import users as user_store

    for user in user_store.list_users(context.runtime.redis):
        status = "" if user_store.active(user) else "  disabled"
        source = ""
        if user_store.from_provider(user):
            who = f"{user.get('name')} <{user.get('email')}>"
            source = f"  {who}, from {user.get('provider_label')}: {user.get('role_reason')}"
        click.echo(f"{user['username']:24}  {user['role']}{status}{source}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["flow_admin", "content_editor", "viewer"]))
@pass_command_context
def users_set_role(context: CommandContext, username: str, role: str) -> None:
    """Change what a user may do."""
    from superflow import users as user_store

    try:
        user_store.set_role(context.runtime.redis, username, role)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} is now {role}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="Default: a new random one, printed once.")
@pass_command_context
def users_set_password(context: CommandContext, username: str, password: str | None) -> None:
    """Give a user a new password; every session they have ends."""
    import secrets

    from superflow import users as user_store

    chosen = password or secrets.token_urlsafe(12)
    try:
        user_store.set_password(context.runtime.redis, username, chosen)
    except user_store.UserError as exc:
        raise click.ClickException(str(exc)) from None
    shown = "" if password else f"; password: {chosen}"
    click.echo(f"the password of {username} was changed; {username}'s sessions have ended{shown}")


def _user_change(name: str, doc: str, done: str) -> None:
    @users.command(name, help=doc)
    @click.argument("username")
    @pass_command_context
    def command(context: CommandContext, username: str) -> None:
        from superflow import users as user_store

        try:
            getattr(user_store, name)(context.runtime.redis, username)
        except user_store.UserError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(done.format(username=username))


_user_change(
    "disable",
    "Keep a user but stop them signing in; their sessions end at once.",
    "{username} can no longer sign in",
)
_user_change("enable", "Let a disabled user sign in again.", "{username} can sign in again")
_user_change("delete", "Remove a user; their sessions end at once.", "{username} was deleted")
