"""Consent and subscription filters, on consents given and withdrawn in the CRM."""

from __future__ import annotations

from superflow.testing import admitted_by_each
from superflow.testing import flow_doc
from superflow.testing import refused_save
from superflow.testing import refused_start

WAIT = {"id": "w", "type": "wait", "settings": {"amount": 1, "unit": "days"}}


def test_consent_and_subscription_filters(sf_runtime, crm):
    rt = sf_runtime
    people = {name: crm.create_person(first_name=name)["id"] for name in ("Ada", "Bjorn", "Cecilie")}
    crm.set_consent(people["Ada"], "emarketing", True)
    crm.set_consent(people["Bjorn"], "emarketing", True)
    crm.set_consent(people["Bjorn"], "emarketing", False)  # withdrawn
    crm.set_consent(people["Cecilie"], "store", True)
    crm.set_subscription(people["Ada"], "newsletter", True)
    crm.set_subscription(people["Bjorn"], "newsletter", True)
    crm.set_subscription(people["Bjorn"], "newsletter", False)  # unsubscribed
    cases = [
        ("consent", {}, {"Ada"}),
        ("consent", {"granted": False}, {"Bjorn", "Cecilie"}),
        ("consent", {"purpose": "store"}, {"Cecilie"}),
        ("subscription", {"name": "newsletter"}, {"Ada"}),
        ("subscription", {"name": "newsletter", "subscribed": False}, {"Bjorn", "Cecilie"}),
    ]
    admitted = admitted_by_each(rt, people, [(kind, settings) for kind, settings, _ in cases], [WAIT])
    for (kind, settings, expected), names in zip(cases, admitted, strict=True):
        assert names == expected, (kind, settings)


def test_bad_settings_are_named(sf_runtime):
    filters = {
        "op": "and",
        "conditions": [
            {"type": "consent", "settings": {"purpose": 7, "granted": "perhaps"}},
            {"type": "subscription", "settings": {"subscribed": "yes please"}},
        ],
    }
    errors = {e["field"]: e["message"] for e in refused_save(sf_runtime, flow_doc([WAIT], filters=filters))}
    assert errors == {
        "filters.conditions[0].settings.purpose": "Not a valid string.",
        "filters.conditions[0].settings.granted": "Not a valid boolean.",
        "filters.conditions[1].settings.subscribed": "Not a valid boolean.",
    }
    filters = {"op": "and", "conditions": [{"type": "subscription", "settings": {}}]}
    assert refused_start(sf_runtime, flow_doc([WAIT], filters=filters)) == [
        "Filter 'Email subscription': Subscription is required"
    ]
