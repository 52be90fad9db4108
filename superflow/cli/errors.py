"""How the ``superflow`` command reports the failures it knows: a plain line, or a
short list of what is wrong, instead of a traceback."""

from __future__ import annotations

import click


def known_errors() -> tuple[type[BaseException], ...]:
    """The exceptions ``main`` prints with :func:`print_error` (imported when a
    command has failed, so that ``--help`` loads none of their modules)."""
    from superflow.config import ConfigError
    from superflow.crm import CrmError
    from superflow.embedded_redis import RedisUnavailable
    from superflow.flow import FlowInvalid
    from superflow.flow import FlowNotReady
    from superflow.flows import FlowNotFound
    from superflow.flows import FlowStateError
    from superflow.registry import PluginError
    from superflow.registry import UnknownComponent

    return (
        ConfigError,
        RedisUnavailable,
        FlowInvalid,
        FlowNotReady,
        FlowStateError,
        FlowNotFound,
        PluginError,
        UnknownComponent,
        CrmError,
    )


def print_error(exc: BaseException) -> None:
    """``error: ...`` on standard error; an invalid or unready flow lists each problem."""
    from superflow.flow import FlowInvalid
    from superflow.flow import FlowNotReady

    if isinstance(exc, FlowInvalid):
        click.echo("error: the flow is not valid:", err=True)
        for err in exc.errors:
            click.echo(f"  {err['field']}: {err['message']}", err=True)
    elif isinstance(exc, FlowNotReady):
        click.echo("error: the flow cannot start yet:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
