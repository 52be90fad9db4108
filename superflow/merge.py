"""Merge tags: one renderer for every text a flow sends or writes.

Templates are Jinja, rendered in a sandbox with strict undefined names, over
``person``, ``company``, ``our_contact``, ``flow`` and ``event`` (the data of the
event that enrolled the person).  SuperOffice-style tags (``[[person.firstname]]``)
mean the same as ``{{ person.firstname }}``.  Fallbacks and dates work as in
Jinja: ``{{ person.first_name | default("there") }}``,
``{{ person.birth_date | date("%d.%m.%Y") }}``.

A template that names something no person can have is an error when the flow is
saved (:func:`check`), so an unknown tag never reaches a recipient as an empty
string.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

ROOTS = ("person", "company", "our_contact", "flow", "event")
SUPEROFFICE_TAG = re.compile(r"\[\[\s*([A-Za-z_][\w.]*)\s*\]\]")

PERSON_ALIASES = {
    "firstname": "first_name",
    "lastname": "last_name",
    "fullname": "full_name",
    "mobilephone": "mobile",
    "birthdate": "birth_date",
}
PERSON_NAMES = frozenset(
    {"id", "first_name", "last_name", "full_name", "email", "mobile", "language", "birth_date", "timezone"}
    | set(PERSON_ALIASES)
)
COMPANY_NAMES = frozenset({"id", "name", "category", "business"})
ASSOCIATE_NAMES = frozenset({"id", "name", "email", "mobile"})
FLOW_NAMES = frozenset({"id", "name"})


class MergeError(ValueError):
    """A template that cannot be rendered; the message names the tag."""


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime(fmt)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.strftime(fmt)


def _blank_none(value: Any) -> Any:
    """A known field with no value prints as nothing (``default`` gives a fallback)."""
    return "" if value is None else value


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True, finalize=_blank_none
    )
    env.filters["date"] = _date
    return env


TEXT = _environment(autoescape=False)
HTML = _environment(autoescape=True)


def normalise(template: str) -> str:
    """SuperOffice's ``[[a.b]]`` as Jinja's ``{{ a.b }}``."""
    return SUPEROFFICE_TAG.sub(r"{{ \1 }}", template or "")


@lru_cache(maxsize=2048)
def _compiled(template: str, html: bool) -> Any:
    return (HTML if html else TEXT).from_string(normalise(template))


def render(template: str, scope: dict[str, Any], *, html: bool = False) -> str:
    """Fill a template from a scope made by :func:`scope`; ``html`` escapes values."""
    if not template:
        return ""
    try:
        return _compiled(template, html).render(scope)
    except TemplateError as exc:
        raise MergeError(f"merge tags: {exc}") from None


def scope(
    person: dict[str, Any],
    *,
    flow: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    our_contact: dict[str, Any] | None = None,
    names: dict[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """The names a template sees.  Extra fields appear on ``person`` (and
    ``company``) under their keys, as SuperOffice's user-defined fields do.  Every
    known name is present (``None`` when empty), so a person without a company
    renders ``{{ company.name }}`` as nothing rather than failing."""
    names = names or known_names()
    view: dict[str, Any] = dict.fromkeys(names["person"])
    view.update(person.get("fields") or {})
    view.update({k: v for k, v in person.items() if k not in ("fields", "company")})
    for alias, name in PERSON_ALIASES.items():
        view[alias] = person.get(name)
    return {
        "person": view,
        "company": {**dict.fromkeys(names["company"]), **(person.get("company") or {})},
        "our_contact": {**dict.fromkeys(names["our_contact"]), **(our_contact or {})},
        "flow": {**dict.fromkeys(names["flow"]), **(flow or {})},
        "event": dict(event or {}),
    }


def known_names(fields: Iterable[Any] = ()) -> dict[str, frozenset[str]]:
    """What each root offers: built-in names plus the CRM's extra fields
    (:class:`superflow.crm.FieldInfo`)."""
    person, company = set(PERSON_NAMES), set(COMPANY_NAMES)
    for f in fields:
        if f.entity == "company":
            company.add(f.key.removeprefix("company."))
        else:
            person.add(f.key)
    return {
        "person": frozenset(person),
        "company": frozenset(company),
        "our_contact": ASSOCIATE_NAMES,
        "flow": FLOW_NAMES,
    }


def check(template: str, names: dict[str, frozenset[str]] | None = None) -> list[str]:
    """Problems of a template: bad syntax, unknown roots, and — when ``names`` is
    given — attributes that no person, company or flow has."""
    if not template:
        return []
    try:
        tree = TEXT.parse(normalise(template))
    except TemplateError as exc:
        return [f"merge tags: {exc.message}"]
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    problems: list[str] = []
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in ROOTS and node.name not in local:
            problems.append(f"unknown merge tag {{{{ {node.name} }}}}")
    if names is not None:
        for node in tree.find_all(nodes.Getattr):
            root = node.node.name if isinstance(node.node, nodes.Name) else ""
            if root in names and node.attr not in names[root]:
                problems.append(f"unknown merge tag {{{{ {root}.{node.attr} }}}}")
    return list(dict.fromkeys(problems))
