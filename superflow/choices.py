"""The CRM lists the designer offers for a setting that names a CRM thing.

A settings field says where its choices come from with
``metadata={"choices_from": "<source>"}`` (in JSON Schema: ``x-choices``); the
designer asks ``/designer/choices/<source>`` and shows a select.  The sources read
the CRM through the backend contract (:class:`superflow.crm.CrmBackend`), so they
work for every CRM backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from superflow.runtime import Runtime

Choice = dict[str, str]


def _by_id(items: list[dict[str, Any]]) -> list[Choice]:
    return [{"value": str(i["id"]), "label": str(i.get("name") or i["id"])} for i in items]


def _fields(rt: Runtime, keep: Callable[[Any], bool]) -> list[Choice]:
    return [
        {"value": f.key, "label": f"{f.label} ({'company' if f.entity == 'company' else 'person'})"}
        for f in rt.crm.list_fields()
        if keep(f)
    ]


def _flows(rt: Runtime) -> list[Choice]:
    from superflow import flows

    return [{"value": row["id"], "label": row["name"]} for row in flows.list_flows(rt)]


def _forms(rt: Runtime) -> list[Choice]:
    from superflow import forms

    return [
        {"value": str(f["id"]), "label": str(f.get("name") or f["id"])} for f in forms.list_forms(rt.redis)
    ]


SOURCES: dict[str, Callable[[Runtime], list[Choice]]] = {
    "selections": lambda rt: _by_id(rt.crm.list_selections()),
    "projects": lambda rt: _by_id(rt.crm.list_projects()),
    "associates": lambda rt: _by_id(rt.crm.list_associates()),
    "request_categories": lambda rt: [
        {"value": str(c["name"]), "label": str(c["name"])} for c in rt.crm.list_request_categories()
    ],
    "person_fields": lambda rt: _fields(rt, lambda f: True),
    "writable_fields": lambda rt: _fields(rt, lambda f: f.writable),
    "company_fields": lambda rt: _fields(rt, lambda f: f.entity == "company"),
    "date_fields": lambda rt: _fields(rt, lambda f: f.type in ("date", "datetime")),
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
