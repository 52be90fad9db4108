"""superflow's public face: what a plugin author imports from ``superflow`` is listed
in ``__all__``, is the very class or function of its module, and is documented in
docs/plugins.md; importing ``superflow`` alone loads none of it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import superflow

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_all_lists_hookimpl_and_every_public_name():
    assert set(superflow.__all__) == {"hookimpl", *superflow.PUBLIC}
    assert len(superflow.__all__) == len(set(superflow.__all__))


@pytest.mark.parametrize("name", sorted(superflow.PUBLIC))
def test_each_name_is_its_modules_own_and_documented(name):
    module = importlib.import_module(superflow.PUBLIC[name])
    assert getattr(superflow, name) is getattr(module, name)
    assert f"`{name}`" in DOCS, f"docs/plugins.md does not mention `{name}`"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'StepTyp'"):
        superflow.StepTyp  # noqa: B018


def test_importing_superflow_loads_nothing_else():
    code = "import sys, superflow; print(sorted(m for m in sys.modules if m.startswith('superflow.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
