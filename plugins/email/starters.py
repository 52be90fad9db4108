"""The starter designs a new email can begin from: newsletter, welcome, event
invitation and plain letter, shipped as JSON files in ``starters/``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .design import load_design

FOLDER = Path(__file__).parent / "starters"
ORDER = ("newsletter", "welcome", "event-invitation", "plain-letter")


@cache
def starters() -> dict[str, dict[str, Any]]:
    """Each starter by its name: ``{"name", "description", "design"}``, checked."""
    found = {}
    for name in ORDER:
        item = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
        item["design"] = load_design(item["design"])
        found[name] = item
    return found


def starter(name: str) -> dict[str, Any] | None:
    return starters().get(name)
