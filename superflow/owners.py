"""Who a created record belongs to, or who is told: owner rules shared by the sales,
follow-up, request and notify steps.

An owner setting is ``{"rule": ..., "associate": "<id>", "fallback": ...}``.  The rule
names where the associate comes from — the person's company (its *our contact* or
*our service contact*), a named associate, the request category's default owner, or
nobody — and the fallback says what happens when the rule finds nobody (the person
has no company, the company has no such contact): leave it unassigned, take the
named associate, or let the participant leave the flow with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

if TYPE_CHECKING:
    from superflow.services import Services

RULES = {
    "our_contact": "The company's our contact",
    "our_service_contact": "The company's our service contact",
    "associate": "A named associate",
    "by_category": "Automatic, by the request's category",
    "unassigned": "Nobody (unassigned)",
}
FALLBACKS = {
    "unassigned": "Leave it unassigned",
    "associate": "Take the named associate",
    "exit": "The participant leaves the flow",
}
NOUNS = {
    "our_contact": "our contact",
    "our_service_contact": "our service contact",
    "associate": "the named associate",
    "by_category": "the category's default owner",
    "unassigned": "nobody",
}


def owner_field(
    rules: tuple[str, ...],
    *,
    default: str,
    label: str = "Owner",
    help: str = "Who the record belongs to",
    fallback_labels: dict[str, str] | None = None,
) -> fields.Nested:
    """A nested ``owner`` setting offering ``rules`` (keys of :data:`RULES`)."""
    fallbacks = {**FALLBACKS, **(fallback_labels or {})}
    schema = Schema.from_dict(
        {
            "rule": fields.String(
                load_default=default,
                validate=validate.OneOf(rules),
                metadata={
                    "label": "Rule",
                    "help": "Where the associate comes from",
                    "choices_labels": {rule: RULES[rule] for rule in rules},
                },
            ),
            "associate": fields.String(
                load_default=None,
                allow_none=True,
                validate=validate.Length(min=1),
                metadata={
                    "label": "Associate",
                    "help": "The associate's id: for the rule 'a named associate', or to fall back on",
                    "choices_from": "associates",
                },
            ),
            "fallback": fields.String(
                load_default="unassigned",
                validate=validate.OneOf(tuple(fallbacks)),
                metadata={
                    "label": "When the rule finds nobody",
                    "help": "The person has no company, or the company has no such contact",
                    "choices_labels": fallbacks,
                },
            ),
        },
        name="OwnerSettings",
    )
    return fields.Nested(
        schema,
        load_default=lambda: {"rule": default, "associate": None, "fallback": "unassigned"},
        metadata={"label": label, "help": help},
    )


def owner_problems(owner: Any, default: str, key: str = "owner") -> list[str]:
    """Readiness: a rule or fallback that needs the named associate must have one.
    ``owner`` is the setting as stored (``None`` when left out)."""
    owner = owner if isinstance(owner, dict) else {}
    if owner.get("associate"):
        return []
    if owner.get("rule", default) == "associate":
        return [f"{key}.associate: choose the associate"]
    if owner.get("fallback") == "associate":
        return [f"{key}.associate: choose the associate to fall back on"]
    return []


def describe_owner(owner: Any, default: str) -> str:
    owner = owner if isinstance(owner, dict) else {}
    rule = owner.get("rule", default)
    if rule == "associate":
        return f"associate {owner.get('associate') or '?'}"
    return NOUNS.get(rule, rule)


@dataclass(frozen=True)
class Owner:
    """What an owner rule gave for one person: the associate's id (``None``: nobody),
    how it was chosen in words, why the rule found nobody (``missing``, when the
    fallback was used) and — when the fallback is ``exit`` — the reason the
    participant leaves with."""

    associate: str | None
    how: str
    exit_reason: str = ""
    missing: str = ""

    def who(self, services: Services) -> str:
        """The owner in an outcome line: the associate's name, or ``nobody``."""
        return associate_name(services, self.associate) if self.associate else "nobody"


def resolve_owner(
    owner: dict[str, Any],
    person: dict[str, Any] | None,
    *,
    category: str | None = None,
    category_owner: str | None = None,
) -> Owner:
    """Apply an owner setting (loaded through :func:`owner_field`) to a person dict;
    ``category_owner`` is the default owner of the request's ``category``."""
    rule = owner["rule"]
    if rule == "associate":
        return Owner(owner["associate"], "the named associate")
    if rule == "unassigned":
        return Owner(None, "unassigned")
    if rule == "by_category":
        if category_owner:
            return Owner(str(category_owner), f"default owner of category {category!r}")
        missing = f"category {category!r} has no default owner" if category else "no category"
    else:
        company = (person or {}).get("company")
        if not company:
            missing = "the person has no company"
        elif not company.get(rule):
            missing = f"{company.get('name') or 'the company'} has no {NOUNS[rule]}"
        else:
            return Owner(str(company[rule]), NOUNS[rule])
    fallback = owner.get("fallback", "unassigned")
    if fallback == "associate" and owner.get("associate"):
        return Owner(owner["associate"], f"fallback: {missing}", missing=missing)
    if fallback == "exit":
        return Owner(None, missing, exit_reason=f"no {NOUNS[rule]}: {missing}", missing=missing)
    return Owner(None, f"unassigned: {missing}", missing=missing)


def find_associate(services: Services, associate_id: str | None) -> dict[str, Any] | None:
    """An associate by id: from the runtime's one-minute cache, else fresh from the CRM
    (an associate created a moment ago)."""
    if associate_id is None:
        return None
    found = services.associate(associate_id)
    if found is None:
        found = {str(a["id"]): a for a in services.crm.list_associates()}.get(str(associate_id))
    return found


def associate_name(services: Services, associate_id: str | None) -> str:
    """The associate's name for outcome lines, or ``associate <id>``."""
    found = find_associate(services, associate_id)
    return (found or {}).get("name") or f"associate {associate_id}"
