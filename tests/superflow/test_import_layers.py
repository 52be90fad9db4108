"""The engine's modules import in one direction: no circle among the engine's parts,
its jobs, the runtime and the flows.

The graph is read from the source with ``ast``: every ``import`` of a
``superflow/*.py`` module, at module level and inside functions alike (a lazy import
is still a circle, only hidden).  Imports under ``if TYPE_CHECKING:`` are left out:
they never run, and type hints may name any module.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import superflow

PACKAGE = Path(superflow.__file__).parent
MODULES = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}

# The engine (its composition and each part), what runs it and what it runs on.
LAYER = {
    "commits",
    "conditions",
    "engine",
    "enrolment",
    "flows",
    "jobs",
    "leases",
    "lifecycle",
    "queueing",
    "runtime",
    "scheduler",
    "stepping",
    "versions",
    "waits",
}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _imported(node: ast.AST) -> set[str]:
    """The ``superflow/*.py`` modules one import statement names."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        if node.module == "superflow":
            names = {f"superflow.{alias.name}" for alias in node.names}
        else:
            names = {node.module}
    return {
        name.split(".")[1]
        for name in names
        if name.startswith("superflow.") and name.split(".")[1] in MODULES
    }


def _imports_of(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                pending.extend(child.orelse)
                continue
            found |= _imported(child)
            pending.append(child)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each ``superflow/*.py`` module → the ``superflow/*.py`` modules it imports."""
    graph = {}
    for module in MODULES:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
        graph[module] = _imports_of(tree) - {module}
    return graph


def shortest_circle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest way from ``start`` back to itself, e.g. ``[engine, jobs, engine]``."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in sorted(graph.get(module, ())):
            if target == start:
                path = [module]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if target not in came_from:
                came_from[target] = module
                queue.append(target)
    return None


def test_the_graph_sees_imports_inside_functions_but_not_type_hints():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from superflow.runtime import Runtime\n"
        "def later():\n"
        "    from superflow import store\n"
        "    import superflow.flow\n"
    )
    assert _imports_of(tree) == {"store", "flow"}


def test_a_circle_is_named_the_way_it_goes():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert shortest_circle(graph, "a") == ["a", "b", "c", "a"]
    assert shortest_circle(graph, "d") is None


def test_no_circle_runs_through_the_engine_jobs_runtime_or_flows():
    graph = import_graph()
    assert LAYER <= MODULES, f"modules named here but gone: {sorted(LAYER - MODULES)}"
    circles = [shortest_circle(graph, module) for module in sorted(LAYER)]
    named = sorted({" → ".join(circle) for circle in circles if circle})
    assert not named, "import circles: " + "; ".join(named)
