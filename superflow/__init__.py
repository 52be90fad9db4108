"""superflow: marketing automation flows that install into a CRM.

The names a plugin needs are importable from here (``from superflow import
StepType, StepResult, hookimpl``), each listed in ``__all__`` and documented in
docs/plugins/ (the built-in plugins import nothing else of superflow's).  The
modules they come from are loaded when a name is first asked for, so that importing
``superflow`` (as every plugin module does for ``hookimpl``) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("superflow")
"""Marker for plugin hook implementations: ``@superflow.hookimpl``."""

#: Each public name and the module that defines it.
PUBLIC: dict[str, str] = {
    **dict.fromkeys(
        (
            "Component",
            "Content",
            "Filter",
            "PeriodicTask",
            "Script",
            "StepContext",
            "StepResult",
            "StepType",
            "SuccessCriterion",
            "Trigger",
        ),
        "superflow.components",
    ),
    **dict.fromkeys(
        (
            "PluginStore",
            "Services",
        ),
        "superflow.services",
    ),
    "Counters": "superflow.counters",
    "Event": "superflow.events",
    "Flow": "superflow.flow",
    "ParticipantView": "superflow.participant_view",
    "Config": "superflow.config",
    "ConfigError": "superflow.config",
    "checked_roles": "superflow.config",
    **dict.fromkeys(
        (
            "AuthProvider",
            "Identity",
            "RoleRule",
            "SignInRefused",
            "map_role",
        ),
        "superflow.auth_providers",
    ),
    **dict.fromkeys(
        (
            "OpenIDConnect",
            "SignedIn",
        ),
        "superflow.oidc",
    ),
    **dict.fromkeys(
        (
            "ChannelError",
            "EmailMessage",
            "EmailTransport",
            "MaybeSent",
            "PermanentFailure",
            "SmsMessage",
            "SmsProvider",
            "TemporaryFailure",
            "checked_address",
            "deliver",
            "result_of",
            "sms_sender_field",
        ),
        "superflow.channels",
    ),
    "deliver_test": "superflow.content",
    "steps_of_type": "superflow.flows",
    **dict.fromkeys(
        (
            "CrmBackend",
            "CrmError",
            "Emit",
            "FieldInfo",
            "UnknownField",
            "person_value",
        ),
        "superflow.crm",
    ),
    **dict.fromkeys(
        (
            "MergeError",
            "MergeLimit",
            "render",
        ),
        "superflow.merge",
    ),
    "zone": "superflow.sendwindow",
    **dict.fromkeys(
        (
            "OPERATORS",
            "VALUELESS",
            "as_moment",
            "as_number",
            "as_text",
            "as_truth",
            "changed",
            "compare",
            "describe_watch",
            "field_name_problem",
            "relative_seconds",
            "same",
            "watch_problems",
            "watched",
        ),
        "superflow.comparisons",
    ),
    **dict.fromkeys(
        (
            "Owner",
            "associate_name",
            "describe_owner",
            "find_associate",
            "owner_field",
            "owner_problems",
            "resolve_owner",
        ),
        "superflow.owners",
    ),
    **dict.fromkeys(
        (
            "RecordCreated",
            "RecordCreatedCriterion",
            "RecordCreatedTrigger",
        ),
        "superflow.record_created",
    ),
    **dict.fromkeys(
        (
            "Segments",
            "checked_number",
            "count_segments",
            "describe_text",
            "segment_details",
        ),
        "superflow.sms_text",
    ),
    **dict.fromkeys(
        (
            "EMAIL_ACTIONS",
            "rewrite_links",
            "seal",
            "unsubscribe_url",
            "untracked_warnings",
        ),
        "superflow.tracking",
    ),
    **dict.fromkeys(
        (
            "login_required",
            "protect",
            "role_required",
        ),
        "superflow.webapp.auth",
    ),
    **dict.fromkeys(
        (
            "BadJson",
            "JsonTooDeep",
            "larger_body",
            "loads",
            "webhook_body",
        ),
        "superflow.webapp.limits",
    ),
    "request_services": "superflow.webapp.runtime",
    "link_actions_field": "superflow.link_actions",
    "for_viewing": "superflow.webapp.public.tracking",
}

__all__ = [
    "hookimpl",
    "AuthProvider",
    "checked_roles",
    "ConfigError",
    "Identity",
    "map_role",
    "OpenIDConnect",
    "RoleRule",
    "SignedIn",
    "SignInRefused",
    "as_moment",
    "as_number",
    "as_text",
    "as_truth",
    "associate_name",
    "BadJson",
    "changed",
    "ChannelError",
    "checked_address",
    "checked_number",
    "compare",
    "Component",
    "Config",
    "Content",
    "count_segments",
    "Counters",
    "CrmBackend",
    "CrmError",
    "deliver",
    "deliver_test",
    "describe_owner",
    "describe_text",
    "describe_watch",
    "EMAIL_ACTIONS",
    "EmailMessage",
    "EmailTransport",
    "Emit",
    "Event",
    "link_actions_field",
    "field_name_problem",
    "FieldInfo",
    "Flow",
    "Filter",
    "find_associate",
    "for_viewing",
    "JsonTooDeep",
    "larger_body",
    "loads",
    "login_required",
    "MaybeSent",
    "MergeError",
    "MergeLimit",
    "OPERATORS",
    "Owner",
    "owner_field",
    "owner_problems",
    "PeriodicTask",
    "ParticipantView",
    "PermanentFailure",
    "person_value",
    "PluginStore",
    "RecordCreated",
    "RecordCreatedCriterion",
    "RecordCreatedTrigger",
    "protect",
    "relative_seconds",
    "render",
    "request_services",
    "resolve_owner",
    "result_of",
    "rewrite_links",
    "role_required",
    "same",
    "Script",
    "seal",
    "segment_details",
    "Segments",
    "Services",
    "steps_of_type",
    "SmsMessage",
    "sms_sender_field",
    "SmsProvider",
    "StepContext",
    "StepResult",
    "StepType",
    "SuccessCriterion",
    "TemporaryFailure",
    "Trigger",
    "UnknownField",
    "unsubscribe_url",
    "untracked_warnings",
    "VALUELESS",
    "watch_problems",
    "watched",
    "webhook_body",
    "zone",
]

if TYPE_CHECKING:
    from superflow.auth_providers import AuthProvider
    from superflow.auth_providers import Identity
    from superflow.auth_providers import RoleRule
    from superflow.auth_providers import SignInRefused
    from superflow.auth_providers import map_role
    from superflow.channels import ChannelError
    from superflow.channels import EmailMessage
    from superflow.channels import EmailTransport
    from superflow.channels import MaybeSent
    from superflow.channels import PermanentFailure
    from superflow.channels import SmsMessage
    from superflow.channels import SmsProvider
    from superflow.channels import TemporaryFailure
    from superflow.channels import checked_address
    from superflow.channels import deliver
    from superflow.channels import result_of
    from superflow.channels import sms_sender_field
    from superflow.comparisons import OPERATORS
    from superflow.comparisons import VALUELESS
    from superflow.comparisons import as_moment
    from superflow.comparisons import as_number
    from superflow.comparisons import as_text
    from superflow.comparisons import as_truth
    from superflow.comparisons import changed
    from superflow.comparisons import compare
    from superflow.comparisons import describe_watch
    from superflow.comparisons import field_name_problem
    from superflow.comparisons import relative_seconds
    from superflow.comparisons import same
    from superflow.comparisons import watch_problems
    from superflow.comparisons import watched
    from superflow.components import Component
    from superflow.components import Content
    from superflow.components import Filter
    from superflow.components import PeriodicTask
    from superflow.components import Script
    from superflow.components import StepContext
    from superflow.components import StepResult
    from superflow.components import StepType
    from superflow.components import SuccessCriterion
    from superflow.components import Trigger
    from superflow.config import Config
    from superflow.config import ConfigError
    from superflow.config import checked_roles
    from superflow.content import deliver_test
    from superflow.counters import Counters
    from superflow.crm import CrmBackend
    from superflow.crm import CrmError
    from superflow.crm import Emit
    from superflow.crm import FieldInfo
    from superflow.crm import UnknownField
    from superflow.crm import person_value
    from superflow.events import Event
    from superflow.flow import Flow
    from superflow.link_actions import link_actions_field
    from superflow.merge import MergeError
    from superflow.merge import MergeLimit
    from superflow.merge import render
    from superflow.oidc import OpenIDConnect
    from superflow.oidc import SignedIn
    from superflow.owners import Owner
    from superflow.owners import associate_name
    from superflow.owners import describe_owner
    from superflow.owners import find_associate
    from superflow.owners import owner_field
    from superflow.owners import owner_problems
    from superflow.owners import resolve_owner
    from superflow.participant_view import ParticipantView
    from superflow.record_created import RecordCreated
    from superflow.record_created import RecordCreatedCriterion
    from superflow.record_created import RecordCreatedTrigger
    from superflow.sendwindow import zone
    from superflow.services import PluginStore
    from superflow.services import Services
    from superflow.sms_text import Segments
    from superflow.sms_text import checked_number
    from superflow.sms_text import count_segments
    from superflow.sms_text import describe_text
    from superflow.sms_text import segment_details
    from superflow.tracking import EMAIL_ACTIONS
    from superflow.tracking import rewrite_links
    from superflow.tracking import seal
    from superflow.tracking import unsubscribe_url
    from superflow.tracking import untracked_warnings
    from superflow.webapp.auth import login_required
    from superflow.webapp.auth import protect
    from superflow.webapp.auth import role_required
    from superflow.webapp.limits import BadJson
    from superflow.webapp.limits import JsonTooDeep
    from superflow.webapp.limits import larger_body
    from superflow.webapp.limits import loads
    from superflow.webapp.limits import webhook_body
    from superflow.webapp.public.tracking import for_viewing
    from superflow.webapp.runtime import request_services


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'superflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
