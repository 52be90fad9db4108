"""How a flow compares a person's CRM value with a setting: field conditions and watched changes.

The contact, company, consent and date plugins and the branches of a split all
compare alike: numbers as numbers, text ignoring case, dates as dates ("-30 days"
is 30 days before now), yes/no words as truth.  A plugin gets these from
``superflow`` (``from superflow import compare, changed``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "starts_with": "starts with",
    "greater_than": "is more than",
    "less_than": "is less than",
    "before": "is before",
    "after": "is after",
    "in_list": "is one of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "is_true": "is true",
    "is_false": "is false",
}
VALUELESS = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})
UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
RELATIVE = re.compile(r"^\s*([+-]?\s*\d+)\s*(minute|hour|day|week)s?\s*$", re.IGNORECASE)
FIELD_NAME = re.compile(r"^[A-Za-z_][\w.:-]*$")
TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off", ""})


def field_name_problem(name: Any, setting: str = "field") -> str | None:
    """What is wrong with a field name given in setting ``setting``, or ``None``."""
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        return (
            f"{setting}: {name!r} is not a valid field name (use letters, digits and _;"
            " company fields start with 'company.')"
        )
    return None


def relative_seconds(value: Any) -> float | None:
    """``"-30 days"`` → seconds; ``None`` when ``value`` is not a relative time."""
    if not isinstance(value, str):
        return None
    if value.strip().lower() in ("now", "today"):
        return 0.0
    match = RELATIVE.match(value)
    if not match:
        return None
    return int(match.group(1).replace(" ", "")) * UNITS[match.group(2).lower()]


def as_moment(value: Any) -> tuple[dt.datetime, bool] | None:
    """A stored date or datetime as an aware datetime, and whether it was a date only."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)), False
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC), True
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC), True
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)), False


def _reference(expected: Any, now: float) -> tuple[dt.datetime, bool] | None:
    """The moment a before/after condition compares with: relative to now, or a date."""
    seconds = relative_seconds(expected)
    if seconds is not None:
        moment = dt.datetime.fromtimestamp(now + seconds, dt.UTC)
        whole_days = seconds % 86400 == 0
        return moment, whole_days
    return as_moment(expected)


def as_number(value: Any) -> float | None:
    """A finite number from a number or numeric text; ``None`` otherwise (yes/no too)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str:
    """The value as text for comparing: trimmed, lower case, ``""`` for nothing."""
    return "" if value is None else str(value).strip().lower()


def as_truth(value: Any) -> bool | None:
    """True or false from a yes/no value or word ("yes", "0", "off"); ``None`` when
    the value says neither."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    word = as_text(value)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _listed(expected: Any) -> list[Any]:
    if isinstance(expected, list | tuple):
        return list(expected)
    if isinstance(expected, str):
        return [part.strip() for part in expected.split(",") if part.strip()]
    return [expected]


def compare(actual: Any, operator: str, expected: Any, now: float) -> bool:
    """One condition on one field value.  Numbers compare as numbers, text ignores
    case, dates compare as dates ("-30 days" is 30 days before now), and a
    multi-value (list) field matches when any of its values does.  ``now`` is the
    engine's time (``services.clock.now()``), which relative dates count from."""
    if operator == "is_empty":
        return actual in (None, "", [], {})
    if operator == "is_not_empty":
        return actual not in (None, "", [], {})
    if operator in ("is_true", "is_false"):
        return as_truth(actual) is (operator == "is_true")
    if isinstance(actual, list) and operator not in ("not_equals",):
        return any(compare(item, operator, expected, now) for item in actual)
    if operator == "contains":
        return as_text(expected) in as_text(actual) if actual is not None else False
    if operator == "starts_with":
        return actual is not None and as_text(actual).startswith(as_text(expected))
    if operator in ("greater_than", "less_than"):
        a, b = as_number(actual), as_number(expected)
        if a is None or b is None:
            return False
        return a > b if operator == "greater_than" else a < b
    if operator in ("before", "after"):
        return _before_after(actual, operator, expected, now)
    if operator == "in_list":
        return any(same(actual, item) for item in _listed(expected))
    if operator == "not_equals":
        if isinstance(actual, list):
            return not any(same(item, expected) for item in actual)
        return not same(actual, expected)
    return same(actual, expected)


def _before_after(actual: Any, operator: str, expected: Any, now: float) -> bool:
    mine, ref = as_moment(actual), _reference(expected, now)
    if mine is None or ref is None:
        return False
    (a, a_date_only), (b, b_whole_days) = mine, ref
    if a_date_only and b_whole_days:
        left, right = a.date(), b.astimezone(dt.UTC).date()
        return left < right if operator == "before" else left > right
    return a < b if operator == "before" else a > b


def same(actual: Any, expected: Any) -> bool:
    """Whether two values are equal the way a condition means it (1 is "1.0", "Yes" is true)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return as_truth(actual) is as_truth(expected) and as_truth(actual) is not None
    a, b = as_number(actual), as_number(expected)
    if a is not None and b is not None:
        return a == b
    return as_text(actual) == as_text(expected)


def watched(settings: dict[str, Any]) -> list[str]:
    """The fields a "changed" trigger or criterion watches (``field`` and ``fields``)."""
    names = list(settings.get("fields") or [])
    if settings.get("field"):
        names.insert(0, settings["field"])
    return list(dict.fromkeys(names))


def changed(changes: dict[str, Any], names: list[str], value: Any, prefix: str = "") -> bool:
    """Whether ``changes`` (``{field: [old, new]}``) changed one of ``names`` (any
    field starting with ``prefix`` when there are none), to ``value`` if given."""
    hits = [key for key in changes if (key in names if names else key.startswith(prefix))]
    if not hits:
        return False
    return value is None or any(same(changes[key][1], value) for key in hits)


def watch_problems(settings: dict[str, Any]) -> list[str]:
    """Readiness problems of the watched fields' names, each naming the setting."""
    problems = []
    for i, name in enumerate(settings.get("fields") or []):
        problem = field_name_problem(name, f"fields[{i}]")
        if problem:
            problems.append(problem)
    if settings.get("field") is not None:
        problem = field_name_problem(settings["field"])
        if problem:
            problems.append(problem)
    return problems


def describe_watch(settings: dict[str, Any], anything: str = "any field") -> str:
    """The watch in words: "When email or mobile changes to 'x'"."""
    names = watched(settings)
    what = " or ".join(names) if names else anything
    to = f" to {settings['value']!r}" if settings.get("value") is not None else ""
    return f"When {what} changes{to}"
