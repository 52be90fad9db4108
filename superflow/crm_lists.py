"""The lists a CRM gives a setting to pick from — selections, projects, associates,
request categories, fields — read through the backend contract
(:class:`superflow.crm.CrmBackend`), so they work for every CRM backend.

:mod:`superflow.choices` offers them to the designer (with superflow's own lists, the
flows and the forms); :mod:`superflow.link_actions` checks that what a link action
names is among them.  This module imports nothing of the engine, so both may use it.
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
}
