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
import string
from collections.abc import Iterable
from functools import cache
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined
from jinja2 import StrictUndefined
from jinja2 import TemplateError
from jinja2 import nodes
from jinja2.exceptions import SecurityError

from superflow.config import Config
from superflow.sandbox import INTERNAL_NAMES
from superflow.sandbox import BoundedSandbox
from superflow.sandbox import Limits
from superflow.sandbox import MergeError
from superflow.sandbox import MergeLimit
from superflow.sandbox import MergeTooDeep
from superflow.sandbox import MergeTooLarge
from superflow.sandbox import MergeTooSlow
from superflow.sandbox import run

__all__ = [
    "UNKNOWN_TAG",
    "Limits",
    "MergeError",
    "MergeLimit",
    "MergeTooDeep",
    "MergeTooLarge",
    "MergeTooSlow",
    "check",
    "hazards",
    "known_names",
    "normalise",
    "render",
    "scope",
]

ROOTS = ("person", "company", "our_contact", "flow", "event")
#: How :func:`check` begins the problem of a name no person, company, flow or event has.
UNKNOWN_TAG = "unknown merge tag"
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
LITERALS = (nodes.Const, nodes.TemplateData, nodes.List, nodes.Tuple, nodes.Dict)
#: Filters that look up an attribute named by a written-out argument.
ATTRIBUTE_FILTERS = frozenset(
    {
        "attr",
        "map",
        "select",
        "selectattr",
        "reject",
        "rejectattr",
        "sort",
        "groupby",
        "sum",
        "unique",
        "min",
        "max",
    }
)
UNSAFE_ATTRIBUTE = re.compile(r"attribute '([^']+)'")


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


def _environment(autoescape: bool, undefined: type = StrictUndefined) -> BoundedSandbox:
    env = BoundedSandbox(
        undefined=undefined, autoescape=autoescape, keep_trailing_newline=True, finalize=_blank_none
    )
    env.add_filter("date", _date)
    return env


TEXT = _environment(autoescape=False)
HTML = _environment(autoescape=True)
#: For the trial run at save: names no person has yet print as nothing.
TRIAL = _environment(autoescape=False, undefined=ChainableUndefined)


@cache
def configured_limits() -> Limits:
    """The render budget of this process: ``SUPERFLOW_MERGE_MAX_OUTPUT`` characters and
    ``SUPERFLOW_MERGE_MAX_SECONDS`` seconds per template."""
    config = Config.from_env()
    return Limits(max_output=config.merge_max_output, max_seconds=config.merge_max_seconds)


def normalise(template: str) -> str:
    """SuperOffice's ``[[a.b]]`` as Jinja's ``{{ a.b }}``."""
    return SUPEROFFICE_TAG.sub(r"{{ \1 }}", template or "")


@lru_cache(maxsize=2048)
def _compiled(template: str, html: bool) -> Any:
    return (HTML if html else TEXT).from_string(normalise(template))


@lru_cache(maxsize=512)
def _trial_compiled(template: str) -> Any:
    return TRIAL.from_string(normalise(template))


def render(template: str, scope: dict[str, Any], *, html: bool = False, limits: Limits | None = None) -> str:
    """Fill a template from a scope made by :func:`scope`; ``html`` escapes values.

    Every failure is a :class:`MergeError` naming the cause; going over the render
    budget (``limits``, else :func:`configured_limits`) is a :class:`MergeLimit`
    (:class:`MergeTooLarge`, :class:`MergeTooSlow`, :class:`MergeTooDeep`)."""
    if not template:
        return ""
    try:
        return run(_compiled(template, html).generate(scope), limits or configured_limits())
    except MergeError:
        raise
    except SecurityError as exc:
        found = UNSAFE_ATTRIBUTE.search(str(exc))
        raise MergeError(
            f"merge tags may not use {found.group(1)}" if found else f"merge tags: {exc}"
        ) from None
    except TemplateError as exc:
        raise MergeError(f"merge tags: {_in_words(exc)}") from None
    except OverflowError:
        raise MergeTooLarge("the merge tags make too large a number") from None
    except RecursionError:
        raise MergeTooDeep("the merge tags call macros too deeply") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise MergeError(f"merge tags: {_in_words(exc)}") from None


#: How a marketer calls the kinds of value Python names in its messages.
KINDS = {
    "int": "a number",
    "float": "a number",
    "bool": "yes or no",
    "NoneType": "empty",
    "str": "text",
    "list": "a list",
    "dict": "the data",
    "PreviewEvent": "the data",
}
NOT_ITERABLE = re.compile(r"'(\w+)' object is not iterable")
NO_ATTRIBUTE = re.compile(r"'(\w+) object' has no attribute '([^']+)'")


def _in_words(exc: Exception) -> str:
    """Python's and Jinja's messages about the data, in the words of the data."""
    text = str(exc)
    if found := NOT_ITERABLE.search(text):
        return f"a for loop needs a list, but this value is {KINDS.get(found.group(1), found.group(1))}"
    if found := NO_ATTRIBUTE.search(text):
        return f"{KINDS.get(found.group(1), 'this value')} has no {found.group(2)!r}"
    return text


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


def check(
    template: str, names: dict[str, frozenset[str]] | None = None, *, event: dict[str, Any] | None = None
) -> list[str]:
    """Problems of a template: bad syntax, unknown roots, and — when ``names`` is
    given — attributes that no person, company or flow has.  With ``event`` (the
    sample data of the flow's trigger, :mod:`superflow.samples`) an ``event`` tag the
    sample lacks is unknown too, and the trial render fills the sample in.  Names are
    keys: ``event.items`` is the event's ``items``, never a method of the data."""
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
            problems.append(f"{UNKNOWN_TAG} {{{{ {node.name} }}}}")
    if names is not None:
        names = _with_event(names, event)
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            root = node.node.name if isinstance(node.node, nodes.Name) else ""
            attr = node.attr if isinstance(node, nodes.Getattr) else _written_key(node)
            if root in names and attr is not None and attr not in names[root]:
                problems.append(f"{UNKNOWN_TAG} {{{{ {root}.{attr} }}}}")
        problems.extend(_static_hazards(tree))
        problems.extend(_trial(template, names, event))
    return list(dict.fromkeys(problems))


def _written_key(node: nodes.Getitem) -> str | None:
    """The key of ``x["key"]`` when it is written out."""
    key = node.arg.value if isinstance(node.arg, nodes.Const) else None
    return key if isinstance(key, str) and not _unsafe(key) else None


def _with_event(names: dict[str, frozenset[str]], event: dict[str, Any] | None) -> dict[str, frozenset[str]]:
    if event is None:
        return names
    return {**names, "event": frozenset(k for k in event if isinstance(k, str))}


def hazards(
    template: str, names: dict[str, frozenset[str]] | None = None, *, event: dict[str, Any] | None = None
) -> list[str]:
    """What makes a template fail whoever it is filled in for: Python internals,
    methods of written-out text, ``attr()`` without a written-out name, and work over
    the render budget with every field empty (:func:`check` includes these)."""
    if not template:
        return []
    try:
        tree = TEXT.parse(normalise(template))
    except TemplateError:
        return []
    return list(dict.fromkeys(_static_hazards(tree) + _trial(template, names or known_names(), event)))


def _unsafe(name: str) -> bool:
    return name.startswith("_") or name in INTERNAL_NAMES


def _format_fields(text: str) -> list[str]:
    """The parts of the names in ``'{0.a[b]}'``-style fields of a written-out text."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return []
    return [part for _, name, _, _ in parsed if name for part in re.split(r"[.\[\]]", name) if part]


def _static_hazards(tree: nodes.Template) -> list[str]:
    """The sandbox's refusals that the template's text alone shows, so a flow that would
    fail them for everyone cannot be saved."""
    problems: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            if _unsafe(node.attr):
                problems.append(f"merge tags may not use {node.attr}")
            elif isinstance(node.node, LITERALS):
                text = node.node.value if isinstance(node.node, nodes.Const) else None
                unsafe = [p for p in _format_fields(text) if _unsafe(p)] if isinstance(text, str) else []
                problems.extend(f"merge tags may not use {p}" for p in unsafe)
                if not unsafe:
                    problems.append(
                        f"merge tags may not call .{node.attr} on written-out text or a list; use a filter"
                        " instead, e.g. {{ person.first_name|upper }}"
                    )
        elif isinstance(node, nodes.Getitem):
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, str) and _unsafe(key):
                problems.append(f"merge tags may not use {key}")
        elif node.name in ATTRIBUTE_FILTERS:
            written = [
                a.value for a in [*node.args, *(k.value for k in node.kwargs)] if isinstance(a, nodes.Const)
            ]
            if node.name == "attr" and not (node.args and isinstance(node.args[0], nodes.Const)):
                problems.append("attr() needs a name written out, e.g. attr('first_name')")
            problems.extend(
                f"merge tags may not use {part}"
                for value in written
                if isinstance(value, str)
                for part in value.split(".")
                if _unsafe(part)
            )
    return problems


def _trial(template: str, names: dict[str, frozenset[str]], event: dict[str, Any] | None = None) -> list[str]:
    """Fill the template in once with every field empty (and ``event`` the sample, if
    given): what goes over the render budget then goes over it for everyone."""
    try:
        run(_trial_compiled(template).generate(scope({}, names=names, event=event)), configured_limits())
    except MergeLimit as exc:
        return [str(exc)]
    except Exception:  # what depends on a person's data shows only when it is filled in
        return []
    return []
