"""The hook specifications: the whole contract a superflow plugin may rely on.

A plugin is a module (or object) with functions named after these hooks and marked
with ``superflow.hookimpl``.  Registration hooks receive a ``register`` callable and
call it once per object they give (the "register returns objects" pattern of llm and
datasette); lifecycle hooks are told what happened and return nothing.

Never give a hook implementation's parameters default values, and only name the
parameters you use: pluggy passes them by name.  Every hook is documented, with its
typed signature and an example, in ``docs/plugins/hooks.md``; the types named here
are all importable from ``superflow``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from superflow.auth_providers import AuthProvider
    from superflow.channels import EmailTransport
    from superflow.channels import SmsProvider
    from superflow.components import Filter
    from superflow.components import PeriodicTask
    from superflow.components import Script
    from superflow.components import StepResult
    from superflow.components import StepType
    from superflow.components import SuccessCriterion
    from superflow.components import Trigger
    from superflow.config import Config
    from superflow.crm import CrmBackend
    from superflow.flow import Flow
    from superflow.participant_view import ParticipantView

hookspec = pluggy.HookspecMarker("superflow")


@hookspec
def superflow_register_step_types(register: Callable[[StepType], None]) -> None:
    """Give step types: call ``register(step_type)`` with :class:`superflow.StepType`
    objects.  Each appears in the designer's palette under its ``category``."""


@hookspec
def superflow_register_triggers(register: Callable[[Trigger], None]) -> None:
    """Give triggers: call ``register(trigger)`` with :class:`superflow.Trigger`
    objects, which say which event types they listen to and whether an event matches."""


@hookspec
def superflow_register_filters(register: Callable[[Filter], None]) -> None:
    """Give filter conditions: call ``register(filter)`` with
    :class:`superflow.Filter` objects, which decide on a person's CRM data."""


@hookspec
def superflow_register_success_criteria(register: Callable[[SuccessCriterion], None]) -> None:
    """Give success criteria: call ``register(criterion)`` with
    :class:`superflow.SuccessCriterion` objects."""


@hookspec
def superflow_register_crm_backends(register: Callable[[type[CrmBackend]], None]) -> None:
    """Give CRM backends: call ``register(backend_class)`` with subclasses of
    :class:`superflow.CrmBackend`.  ``SUPERFLOW_CRM`` picks one by name."""


@hookspec
def superflow_register_email_transports(register: Callable[[type[EmailTransport]], None]) -> None:
    """Give email transports: call ``register(transport_class)`` with subclasses of
    :class:`superflow.EmailTransport`.  ``SUPERFLOW_EMAIL_TRANSPORT`` picks one."""


@hookspec
def superflow_register_sms_providers(register: Callable[[type[SmsProvider]], None]) -> None:
    """Give SMS providers: call ``register(provider_class)`` with subclasses of
    :class:`superflow.SmsProvider`.  ``SUPERFLOW_SMS_PROVIDER`` picks one."""


@hookspec
def superflow_register_scripts(register: Callable[[Script], None]) -> None:
    """Give scripts for the "run script" step: call ``register(script)`` with
    :class:`superflow.Script` objects, each a named piece of code a flow
    may run for a participant."""


@hookspec
def superflow_register_periodic_tasks(register: Callable[[PeriodicTask], None]) -> None:
    """Give work to run every so often: call ``register(task)`` with
    :class:`superflow.PeriodicTask` objects (poll a CRM for changes it
    sends no webhook for).  The workers' tick queues each as a job when it is due."""


@hookspec
def superflow_register_routes(register: Callable[[Blueprint], None]) -> None:
    """Give the web app routes: call ``register(blueprint)`` with Flask blueprints
    (a CRM's webhook endpoint, a provider's delivery receipts).  Their handlers
    verify what arrives, turn it into events and enqueue them; they never do the
    work inline."""


@hookspec
def superflow_register_admin_links(register: Callable[[str, str], None]) -> None:
    """Add links to the admin's navigation: call ``register(label, url)`` with the
    text to show and the path of a page on this site (usually one of your own
    routes, ``register("Outbox", "/outbox")``).  The web app may ask once, when it is
    built, or again for each page: give the same links every time, quickly, with no
    side effects."""


@hookspec
def superflow_register_designer_scripts(register: Callable[[str], None]) -> None:
    """Add scripts to the flow designer's page: call ``register(url)`` with the path
    of a JavaScript file your own routes serve (a blueprint's ``static_folder``), or
    ``register(url, module=True)`` for an ES module.  A module imports the designer's
    public module, ``/static/designer/widgets.js``, and calls
    ``registerWidget(name, draw)`` (``registerChannel(name, how)`` for a channel's
    preview and test address, ``registerSummary(kind, name, words)`` for a part's words
    in the chart); a classic script sets
    ``window.superflowWidgets[name] = function (container, value, onChange, property)``.
    Plugin scripts run in the order registered, before the designer draws any form;
    a settings field with ``metadata={"widget": name}`` then uses the widget."""


@hookspec
def superflow_register_auth_providers(register: Callable[[AuthProvider], None], config: Config) -> None:
    """Give ways to sign in to the admin: call ``register(provider)`` with
    :class:`superflow.AuthProvider` objects set up from ``config`` (register none when
    your provider is not configured).  The sign-in page shows a button per provider; the
    provider says who signed in and which role they get, and why."""


@hookspec
def superflow_register_commands(cli: click.Group) -> None:
    """Add commands to the ``superflow`` command line: ``cli`` is the click group;
    call ``cli.command()`` / ``cli.group()`` on it (``superflow superoffice check``)."""


@hookspec
def superflow_participant_enrolled(participant: ParticipantView, flow: Flow) -> None:
    """A person entered a flow.  ``participant`` is a read-only
    :class:`superflow.ParticipantView`, ``flow`` the :class:`superflow.Flow`.  Called
    in the worker, after the enrolment was stored; do not block for long."""


@hookspec
def superflow_step_executed(participant: ParticipantView, step: dict[str, Any], result: StepResult) -> None:
    """A step ran for a participant (a :class:`superflow.ParticipantView`).  ``step`` is the flow's step dict
    (``{"id", "type", "settings"}``) and ``result`` the :class:`superflow.StepResult`
    the step type returned.  Called after the outcome was stored."""


@hookspec
def superflow_participant_finished(participant: ParticipantView, status: str, reason: str) -> None:
    """A participation ended: ``status`` is ``completed``, ``succeeded``, ``exited`` or
    ``cancelled``; ``reason`` says why (empty for ``completed``)."""
