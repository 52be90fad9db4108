"""The built-in ``superoffice`` CRM backend: flows against a SuperOffice tenant through
its WebAPI, webhooks that start and advance flows, a poll for selection members, the
``superflow superoffice`` commands, and "Sign in with SuperOffice" (when
``SUPERFLOW_SUPEROFFICE_SIGNIN_CLIENT_ID`` is set).  With another CRM configured it only registers."""

from collections.abc import Callable
from typing import Any

from superflow import AuthProvider
from superflow import Config
from superflow import CrmBackend
from superflow import PeriodicTask
from superflow import hookimpl

from .backend import SuperOfficeCrm
from .polling import SelectionPoll


@hookimpl
def superflow_register_crm_backends(register: Callable[[type[CrmBackend]], None]) -> None:
    register(SuperOfficeCrm)


@hookimpl
def superflow_register_routes(register: Callable[[Any], None]) -> None:
    from .webhooks import bp

    register(bp)


@hookimpl
def superflow_register_periodic_tasks(register: Callable[[PeriodicTask], None]) -> None:
    register(SelectionPoll())


@hookimpl
def superflow_register_auth_providers(register: Callable[[AuthProvider], None], config: Config) -> None:
    from .signin import from_config

    provider = from_config(config)
    if provider is not None:
        register(provider)


@hookimpl
def superflow_register_commands(cli: Any) -> None:
    from .commands import add_commands

    add_commands(cli)
