"""The CRM lists the designer offers for a setting that names a CRM thing.

A settings field says where its choices come from with
``metadata={"choices_from": "<source>"}`` (in JSON Schema: ``x-choices``); the
designer asks ``/designer/choices/<source>`` and shows a select.  The CRM's lists
come from :mod:`superflow.crm_lists`; superflow's own are the flows and the forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from superflow import crm_lists

if TYPE_CHECKING:
    from superflow.runtime import Runtime

Choice = crm_lists.Choice


def _flows(rt: Runtime) -> list[Choice]:
    from superflow import flows

    return [{"value": row["id"], "label": row["name"]} for row in flows.list_flows(rt)]


def _forms(rt: Runtime) -> list[Choice]:
    from superflow import forms

    return [
        {"value": str(f["id"]), "label": str(f.get("name") or f["id"])} for f in forms.list_forms(rt.redis)
    ]


SOURCES: dict[str, Callable[[Runtime], list[Choice]]] = {
    **crm_lists.SOURCES,
    "flows": _flows,
    "forms": _forms,
}


class UnknownSource(KeyError):
    def __str__(self) -> str:
        return f"no choices {self.args[0]!r}; known: {', '.join(sorted(SOURCES))}"


def choices(rt: Runtime, source: str) -> list[Choice]:
    """The choices of ``source``; a CRM that fails raises its own error."""
    if source not in SOURCES:
        raise UnknownSource(source)
    return SOURCES[source](rt)
