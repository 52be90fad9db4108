"""Merge tags: ``{{person.first_name}}`` in subjects, bodies and texts.

A tag names a path into the person record (``person.*``, ``company.*``,
``fields.*``) or the participation (``flow.name``).  ``{{person.first_name|there}}``
gives a fallback for an empty value.  Unknown tags are errors, found before a flow
can start, never left in a sent message.
"""

from __future__ import annotations

import html
import re
from typing import Any

TAG = re.compile(r"\{\{\s*([a-zA-Z_][\w.]*)\s*(?:\|([^}]*))?\}\}")

PERSON_KEYS = (
    "id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "mobile",
    "language",
    "birth_date",
    "timezone",
)
COMPANY_KEYS = ("id", "name", "category", "business")


class MergeError(ValueError):
    """A template names a tag that does not exist."""


def tags(template: str) -> list[str]:
    return [m.group(1) for m in TAG.finditer(template or "")]


def unknown_tags(template: str, extra_fields: set[str] | None = None) -> list[str]:
    """Tags in ``template`` that no person could fill."""
    bad = []
    for tag in tags(template):
        head, _, rest = tag.partition(".")
        if head == "person" and rest in PERSON_KEYS:
            continue
        if head == "company" and rest in COMPANY_KEYS:
            continue
        if head == "fields" and rest and (extra_fields is None or rest in extra_fields):
            continue
        if head == "flow" and rest == "name":
            continue
        bad.append(tag)
    return bad


def render(
    template: str, person: dict[str, Any], extra: dict[str, Any] | None = None, *, escape: bool = False
) -> str:
    """Fill the tags of ``template`` from ``person``; ``escape`` for HTML bodies."""
    scope = {"person": person, "company": person.get("company") or {}, "fields": person.get("fields") or {}}
    scope.update(extra or {})

    def fill(match: re.Match[str]) -> str:
        path, fallback = match.group(1), match.group(2)
        value: Any = scope
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                if fallback is None and path.split(".")[0] not in scope:
                    raise MergeError(f"unknown merge tag {{{{{path}}}}}")
                value = None
                break
            value = value[part]
        text = "" if value is None else str(value)
        if not text and fallback is not None:
            text = fallback.strip()
        return html.escape(text) if escape else text

    return TAG.sub(fill, template or "")
