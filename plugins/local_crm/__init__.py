"""The built-in ``local`` CRM backend: an embedded SQLite CRM for trying superflow out,
for demos and for tests, with no CRM account needed; the scripts it gives the
"run script" step; and the ``superflow crm`` commands."""

from collections.abc import Callable

import click

from superflow import CrmBackend
from superflow import Script
from superflow import hookimpl

from .backend import LocalCrm
from .scripts import RecalculateScore
from .scripts import TotalSales


@hookimpl
def superflow_register_crm_backends(register: Callable[[type[CrmBackend]], None]) -> None:
    register(LocalCrm)


@hookimpl
def superflow_register_scripts(register: Callable[[Script], None]) -> None:
    register(RecalculateScore())
    register(TotalSales())


@hookimpl
def superflow_register_commands(cli: click.Group) -> None:
    from .commands import add_commands

    add_commands(cli)
