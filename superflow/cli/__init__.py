"""The ``superflow`` command: the group of every command, built in or added by a
plugin, and ``main``, its entry point."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from superflow.cli import apikeys
from superflow.cli import demo
from superflow.cli import events
from superflow.cli import flows
from superflow.cli import forms
from superflow.cli import participants
from superflow.cli import plugins
from superflow.cli import users
from superflow.cli import web
from superflow.cli import worker
from superflow.cli.context import CommandContext
from superflow.cli.errors import known_errors
from superflow.cli.errors import print_error

log = logging.getLogger(__name__)


class SuperflowGroup(click.Group):
    """The built-in commands, and those plugins add through
    ``superflow_register_commands``.

    Plugins are loaded for their commands once, the first time a command that is not
    built in is asked for or the commands are listed (``--help``): importing this
    module loads no plugin, and a built-in command loads only what it uses.  A plugin
    whose hook fails is logged and left out; the other commands work on.  A name
    already taken keeps its command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins_added = False
        self._adding_for: str | None = None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return super().list_commands(ctx)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if self._adding_for is not None and name in self.commands:
            log.warning(
                "plugin %s: a command %r exists already; the plugin's is left out", self._adding_for, name
            )
            return
        super().add_command(cmd, name)

    def add_plugin_commands(self) -> None:
        """Call each plugin's ``superflow_register_commands(cli)`` with this group (once)."""
        if self._plugins_added:
            return
        self._plugins_added = True
        from superflow.config import Config
        from superflow.registry import load_registry

        try:
            pm = load_registry(Config.from_env().plugins).pm
        except Exception as exc:
            log.error("plugins could not be loaded, so their commands are missing: %s", exc)
            return
        hook_args = {"cli": self}
        for impl in pm.hook.superflow_register_commands.get_hookimpls():
            self._adding_for = pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                impl.function(*(hook_args[name] for name in impl.argnames))
            except Exception:
                log.exception("plugin %s failed to add its commands", self._adding_for)
            finally:
                self._adding_for = None


@click.group(cls=SuperflowGroup)
@click.version_option(package_name="superflow")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """superflow: marketing automation flows for your CRM."""
    context = ctx.ensure_object(CommandContext)
    ctx.call_on_close(context.close)


BUILT_IN = (
    apikeys.apikeys,
    demo.demo,
    participants.enroll,
    events.events,
    flows.flows,
    forms.forms,
    participants.history,
    participants.participants,
    plugins.plugins,
    participants.stuck,
    users.users,
    web.web,
    worker.worker,
)
"""superflow's own commands; ``--help`` lists them with the plugins' by name."""
for command in BUILT_IN:
    cli.add_command(command)


def main() -> None:
    """Entry point: clear one-line errors instead of tracebacks for known failures."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except known_errors() as exc:
        print_error(exc)
        sys.exit(1)
