"""superflow's public face: what a plugin author imports from ``superflow`` is listed
in ``__all__``, is the very class or function of its module, and is documented in
docs/plugins/; importing ``superflow`` alone loads none of it; and a built-in plugin
imports nothing else of superflow's."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import superflow

DOCS = "\n".join(
    page.read_text(encoding="utf-8")
    for page in sorted((Path(__file__).resolve().parents[2] / "docs" / "plugins").glob("*.md"))
)


def test_all_lists_hookimpl_and_every_public_name():
    assert set(superflow.__all__) == {"hookimpl", *superflow.PUBLIC}
    assert len(superflow.__all__) == len(set(superflow.__all__))


@pytest.mark.parametrize("name", sorted(superflow.PUBLIC))
def test_each_name_is_its_modules_own_and_documented(name):
    module = importlib.import_module(superflow.PUBLIC[name])
    assert getattr(superflow, name) is getattr(module, name)
    assert f"`{name}`" in DOCS, f"docs/plugins/ does not mention `{name}`"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'StepTyp'"):
        superflow.StepTyp  # noqa: B018


def test_importing_superflow_loads_nothing_else():
    code = "import sys, superflow; print(sorted(m for m in sys.modules if m.startswith('superflow.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


ROOT = Path(__file__).resolve().parents[2]
#: Where plugins live, each folder with the dotted name it is imported under.
PLUGIN_ROOTS = {
    ROOT / "plugins": "superflow.plugins",
    ROOT / "tests" / "browser" / "plugins": "",
    ROOT / "examples" / "plugins" / "superflow_loyalty": "",
}
#: The process global two places still reach, because readiness checks and settings
#: schemas are handed no services yet; nothing else may join this list.
STILL_GLOBAL = {
    ("superflow.plugins.scripts", "superflow.runtime"),
    ("superflow.plugins.email", "superflow.runtime"),
}


def plugin_modules() -> list[tuple[str, Path]]:
    found = []
    for folder, prefix in PLUGIN_ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("").parts
            if relative[0] == "tests" or relative[-1] == "conftest":
                continue
            parts = [*prefix.split("."), *relative] if prefix else list(relative)
            found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def internal_imports(dotted: str, path: Path) -> list[str]:
    """Each import in the module of superflow's that is neither the public face nor the
    plugin's own package (``superflow.plugins.<name>``, a relative import inside it)."""
    parts = dotted.split(".")
    own = ".".join(parts[:3]) if dotted.startswith("superflow.plugins.") else parts[0]
    package = parts if path.name == "__init__.py" else parts[:-1]
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            targets = [(base, alias.name) for alias in node.names]
        else:
            continue
        for module, name in targets:
            if module == own or module.startswith(own + "."):
                continue
            if module == "superflow" and (name is None or name in superflow.__all__):
                continue
            if module == "superflow" or module.startswith("superflow."):
                shown = module if module != "superflow" or name is None else f"superflow.{name}"
                if (dotted, shown) not in STILL_GLOBAL:
                    wrong.append(f"line {node.lineno}: {shown}")
    return wrong


def test_plugins_are_found():
    names = {dotted for dotted, _ in plugin_modules()}
    assert {"superflow.plugins.contact", "superflow.plugins.email.attachments", "superflow_testkit"} <= names
    assert "superflow_loyalty" in names


@pytest.mark.parametrize(("dotted", "path"), plugin_modules(), ids=[d for d, _ in plugin_modules()])
def test_a_plugin_imports_only_the_public_face_and_its_own_package(dotted, path):
    wrong = internal_imports(dotted, path)
    assert not wrong, f"{dotted} imports superflow internals (use `from superflow import ...`): {wrong}"
