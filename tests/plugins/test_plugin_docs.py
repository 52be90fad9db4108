"""Every hook has its documentation section (the datasette way): a hook added to
``superflow.hookspecs`` without a ``## name(params)`` section in docs/plugins/hooks.md,
whose parameters changed, or whose typed signature there is not the hookspec's, fails
here; and every hookspec is typed."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from superflow import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"
HEADING = re.compile(r"^## (superflow_\w+)\((.*)\)\s*$", re.MULTILINE)

HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if name.startswith("superflow_") and inspect.isfunction(value)
)


@pytest.fixture(scope="module")
def documented() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for name, params in HEADING.findall(DOCS.read_text(encoding="utf-8")):
        assert name not in sections, f"docs/plugins/hooks.md has two sections for {name}"
        sections[name] = [p.strip() for p in params.split(",") if p.strip()]
    return sections


def test_there_are_hooks():
    assert "superflow_register_step_types" in HOOKS
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and doc.strip(), f"hookspec {hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_parameters(hook, documented):
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"## {hook}({', '.join(params)})"
    assert hook in documented, f"docs/plugins/hooks.md needs a section titled {heading!r}"
    assert documented[hook] == params, f"docs/plugins/hooks.md: the section of {hook} should be {heading!r}"


def test_no_section_for_a_hook_that_does_not_exist(documented):
    unknown = sorted(set(documented) - set(HOOKS))
    assert not unknown, f"docs/plugins/hooks.md documents hooks that superflow.hookspecs lacks: {unknown}"


def typed_signature(hook: str) -> str:
    signature = inspect.signature(getattr(hookspecs, hook))
    params = ", ".join(f"{name}: {p.annotation}" for name, p in signature.parameters.items())
    return f"def {hook}({params}) -> {signature.return_annotation}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_typed(hook):
    signature = inspect.signature(getattr(hookspecs, hook))
    untyped = [name for name, p in signature.parameters.items() if p.annotation is inspect.Parameter.empty]
    assert not untyped, f"hookspec {hook}: type its parameters {untyped}"
    assert signature.return_annotation is not inspect.Signature.empty, f"hookspec {hook}: type its return"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_section_shows_the_typed_signature(hook):
    expected = typed_signature(hook)
    assert f"```python\n{expected}\n```" in DOCS.read_text(encoding="utf-8"), (
        f"docs/plugins/hooks.md: the section of {hook} should show\n{expected}"
    )
