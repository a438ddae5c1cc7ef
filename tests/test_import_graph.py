"""Imports go one way: no module imports (directly or round a loop) a module that imports it back.

Read from the source with `ast` (imports inside functions and under TYPE_CHECKING count too: a loop hidden
that way is still a loop in the design). DESIGN: a login traced through the code goes route → engine →
method → adapter → session → token, each hop once, with no return to a module already left.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Module → the modules of `packages` it imports."""
    files = {_module_name(p): p for package in packages for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    package = name.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                    base = ".".join([*package, *([base] if base else [])])
                deps.add(base)
                deps |= {f"{base}.{alias.name}" for alias in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_oauth_package_has_no_import_loop() -> None:
    graph = import_graph("idp/oauth")
    assert "idp.oauth.provider" in graph and "idp.oauth.grants" in graph["idp.oauth.provider"]
    assert cycles(graph) == []


def test_the_service_has_no_import_loop() -> None:
    assert cycles(import_graph("idp", "signing", "keys")) == []


def test_a_loop_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
