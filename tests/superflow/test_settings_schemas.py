"""Every installed flow part's settings schema names the field it refuses."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from marshmallow import fields

from superflow.registry import DEFAULT_PLUGINS
from superflow.registry import load_registry

KINDS = ("step_types", "triggers", "filters", "success_criteria")
REGISTRY = load_registry(only=DEFAULT_PLUGINS)
COMPONENTS = [
    (kind, name, item)
    for kind in KINDS
    for name, item in sorted(REGISTRY.all(kind).items())
    if item.settings_schema is not None
]
WRONG = {
    fields.Email: "not an address",
    fields.String: 12345,
    fields.Integer: "several",
    fields.Float: "a lot",
    fields.Number: "a lot",
    fields.Boolean: "perhaps",
    fields.DateTime: "the day after tomorrow",
    fields.Date: "someday",
    fields.List: "not a list",
    fields.Nested: "not an object",
    fields.Dict: "not an object",
}


def wrong_value(field):
    for field_type, value in WRONG.items():
        if isinstance(field, field_type):
            return value
    return None


@pytest.mark.parametrize(("kind", "name", "item"), COMPONENTS, ids=[f"{k}:{n}" for k, n, _ in COMPONENTS])
def test_missing_required_settings_are_named(kind, name, item):
    schema = item.settings_schema()
    required = sorted(n for n, f in schema.fields.items() if f.required)
    if not required:
        schema.load({})
        return
    with pytest.raises(ValidationError) as info:
        schema.load({})
    for field_name in required:
        assert info.value.messages.get(field_name) == ["Missing data for required field."], field_name


@pytest.mark.parametrize(("kind", "name", "item"), COMPONENTS, ids=[f"{k}:{n}" for k, n, _ in COMPONENTS])
def test_wrong_types_are_named(kind, name, item):
    schema = item.settings_schema()
    for field_name, field in schema.fields.items():
        bad = wrong_value(field)
        if bad is None:
            continue
        with pytest.raises(ValidationError) as info:
            schema.load({field_name: bad}, partial=True)
        assert field_name in info.value.messages, f"{name}.{field_name} accepted {bad!r}"


@pytest.mark.parametrize(("kind", "name", "item"), COMPONENTS, ids=[f"{k}:{n}" for k, n, _ in COMPONENTS])
def test_every_setting_has_a_label_for_the_forms(kind, name, item):
    assert item.label and item.category, f"{name} needs a label and a palette category"
    for field_name, field in item.settings_schema().fields.items():
        assert field.metadata.get("label"), f"{name}.{field_name} has no label"
