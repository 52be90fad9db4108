"""superflow: marketing automation flows that install into a CRM.

The names a plugin needs are importable from here (``from superflow import
StepType, StepResult, hookimpl``), each listed in ``__all__`` and documented in
docs/plugins.md.  The modules they come from are loaded when a name is first asked
for, so that importing ``superflow`` (as every plugin module does for ``hookimpl``)
loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "Event": "superflow.events",
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
        ),
        "superflow.channels",
    ),
    **dict.fromkeys(("CrmBackend", "CrmError", "FieldInfo", "UnknownField"), "superflow.crm"),
    **dict.fromkeys(("MergeError", "MergeLimit", "render"), "superflow.merge"),
}

__all__ = [
    "hookimpl",
    "ChannelError",
    "Component",
    "Content",
    "CrmBackend",
    "CrmError",
    "EmailMessage",
    "EmailTransport",
    "Event",
    "FieldInfo",
    "Filter",
    "MaybeSent",
    "MergeError",
    "MergeLimit",
    "PeriodicTask",
    "PermanentFailure",
    "render",
    "Script",
    "SmsMessage",
    "SmsProvider",
    "StepContext",
    "StepResult",
    "StepType",
    "SuccessCriterion",
    "TemporaryFailure",
    "Trigger",
    "UnknownField",
]

if TYPE_CHECKING:
    from superflow.channels import (
        ChannelError,
        EmailMessage,
        EmailTransport,
        MaybeSent,
        PermanentFailure,
        SmsMessage,
        SmsProvider,
        TemporaryFailure,
    )
    from superflow.components import (
        Component,
        Content,
        Filter,
        PeriodicTask,
        Script,
        StepContext,
        StepResult,
        StepType,
        SuccessCriterion,
        Trigger,
    )
    from superflow.crm import CrmBackend, CrmError, FieldInfo, UnknownField
    from superflow.events import Event
    from superflow.merge import MergeError, MergeLimit, render


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'superflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
