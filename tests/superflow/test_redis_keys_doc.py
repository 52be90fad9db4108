"""docs/redis-keys.md is printed from superflow.keys: the page and the key declarations agree."""

from __future__ import annotations

import re
from pathlib import Path

from superflow import keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "redis-keys.md"


def test_the_page_is_what_the_declarations_print() -> None:
    assert DOC.read_text() == keys.markdown(), (
        "docs/redis-keys.md differs from superflow.keys; run "
        "`python -m superflow.keys > docs/redis-keys.md` and commit the page"
    )


def test_every_key_of_the_core_is_declared_on_the_page() -> None:
    declared = {row.pattern for section in keys.SECTIONS for row in section.rows if isinstance(row, keys.Key)}
    shown = " ".join(
        row.shown for section in keys.SECTIONS for row in section.rows if isinstance(row, keys.Key)
    )
    for name, value in vars(keys).items():
        if name.isupper() and isinstance(value, str) and value.startswith("sf:") and not value.endswith(":"):
            assert value in declared or f"`{value}`" in shown, f"keys.{name} ({value}) has no row on the page"


def test_plugins_keep_their_keys_under_their_namespace() -> None:
    assert keys.plugin_namespace("superoffice") == "sf:superoffice"
    assert re.fullmatch(r"sf:[a-z_-]+", keys.plugin_namespace("sent-to"))
