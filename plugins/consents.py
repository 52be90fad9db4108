"""Consents and subscriptions: filters on what the person agreed to.

The person dict carries ``consents`` (``{purpose: granted}``, e.g. ``emarketing``)
and ``subscriptions`` (``{name: subscribed}``, e.g. ``newsletter``); a purpose or
subscription the person never answered counts as not given.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from superflow import Filter
from superflow import Services
from superflow import hookimpl


class ConsentSettings(Schema):
    purpose = fields.String(
        load_default="emarketing",
        validate=validate.Length(min=1),
        metadata={"label": "Purpose", "help": "The consent purpose, e.g. emarketing or store"},
    )
    granted = fields.Boolean(
        load_default=True,
        metadata={
            "label": "Has given it",
            "help": "Yes: the person gave this consent; no: never asked, or withdrew it",
        },
    )


class HasConsent(Filter):
    name = "consent"
    label = "Consent for a purpose"
    category = "Consents"
    description = "The person has (or has not) given consent for a purpose, such as e-marketing."
    settings_schema = ConsentSettings

    def describe(self, settings: dict[str, Any]) -> str:
        purpose = settings.get("purpose", "emarketing")
        return f"Has consent for {purpose}" if settings.get("granted", True) else f"No consent for {purpose}"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        given = bool((person.get("consents") or {}).get(settings["purpose"]))
        return given is settings["granted"]


class SubscriptionSettings(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"label": "Subscription", "help": "The email subscription, e.g. newsletter"},
    )
    subscribed = fields.Boolean(
        load_default=True,
        metadata={"label": "Is subscribed", "help": "Yes: subscribed; no: never subscribed, or unsubscribed"},
    )


class Subscribed(Filter):
    name = "subscription"
    label = "Email subscription"
    category = "Consents"
    description = "The person is (or is not) subscribed to an email subscription."
    settings_schema = SubscriptionSettings

    def describe(self, settings: dict[str, Any]) -> str:
        name = settings.get("name", "?")
        return f"Subscribed to {name}" if settings.get("subscribed", True) else f"Not subscribed to {name}"

    def matches(
        self, person: dict[str, Any], settings: dict[str, Any], participant: Any, services: Services
    ) -> bool:
        subscribed = bool((person.get("subscriptions") or {}).get(settings["name"]))
        return subscribed is settings["subscribed"]


@hookimpl
def superflow_register_filters(register):
    register(HasConsent())
    register(Subscribed())
