"""The object every ``superflow`` command gets as click's ``ctx.obj``: the
configuration, the runtime opened on first use, and the person rules."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import click

from superflow.cli.data_folder import check_data_folder
from superflow.config import Config

if TYPE_CHECKING:
    from superflow.runtime import Runtime


class CommandContext:
    """What a command needs of superflow, each part built when first asked for, so
    that ``--help`` and ``flows validate`` need no Redis.

    Plugins' commands (``superflow_register_commands``) get it with
    ``@click.pass_obj`` and take ``config``, ``runtime`` and ``people`` from it
    rather than import superflow's internals."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._runtime: Runtime | None = None

    @property
    def config(self) -> Config:
        """The configuration from the environment (``SUPERFLOW_*``, ``REDIS_URL``)."""
        if self._config is None:
            self._config = Config.from_env()
        return self._config

    @property
    def runtime(self) -> Runtime:
        """The runtime on the data folder that is there; where there is none, the
        command stops and says how to point at one."""
        return self.open_runtime()

    def open_runtime(self, may_start_data_folder: bool = False) -> Runtime:
        """The runtime; ``may_start_data_folder`` for the commands that may begin a
        new data folder (they say so when they do)."""
        if self._runtime is None:
            from superflow.runtime import Runtime
            from superflow.runtime import set_current

            check_data_folder(self.config, may_start_data_folder)
            self._runtime = Runtime(self.config)
            set_current(self._runtime)
        return self._runtime

    @property
    def people(self) -> ModuleType:
        """The person rules the People screen and the persons API follow
        (:mod:`superflow.people`: fields read by their type, errors that name the
        field), for commands that show or change persons."""
        from superflow import people

        return people

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


pass_command_context = click.make_pass_decorator(CommandContext, ensure=True)
"""Hands a command the :class:`CommandContext` as its first argument."""
