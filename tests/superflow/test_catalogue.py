"""docs/builtins.md is what `superflow plugins docs` writes for the built-ins."""

from __future__ import annotations

from pathlib import Path

from superflow.catalogue import catalogue
from superflow.registry import DEFAULT_PLUGINS
from superflow.registry import load_registry

BUILTINS = Path(__file__).resolve().parents[2] / "docs" / "builtins.md"


def test_the_builtins_catalogue_is_up_to_date():
    expected = catalogue(load_registry(only=DEFAULT_PLUGINS))
    assert BUILTINS.read_text() == expected, "run: superflow plugins docs > docs/builtins.md"


def test_the_catalogue_lists_every_part_with_its_settings():
    text = BUILTINS.read_text()
    registry = load_registry(only=DEFAULT_PLUGINS)
    for kind in ("step_types", "triggers", "filters", "success_criteria"):
        for name, item in registry.all(kind).items():
            assert f"### {item.label} (`{name}`)" in text
    assert "| `owner.rule` |" in text
    assert "| `changes[].action` |" in text
