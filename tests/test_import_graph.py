"""The import graph of calmesh/, read with ``ast`` (nothing is imported):
services and side effects form no cycle and hide none behind imports inside
functions, the engine stays pure, and pages and the REST layer never import
each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "calmesh"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


MODULES = _modules()


def _targets(node: ast.AST) -> list[str]:
    """The modules an import statement names (``from a import b`` also names
    ``a.b`` when that is a module). calmesh uses absolute imports only."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        assert node.level == 0, "calmesh uses absolute imports"
        base = node.module or ""
        return [base, *(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)]
    return []


def _top_level(tree: ast.Module, module: str) -> set[str]:
    outside: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        outside.update(_targets(node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return outside


def _function_level(module: str) -> set[str]:
    inside: set[str] = set()
    for node in ast.walk(MODULES[module]):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                inside.update(_targets(inner))
    return inside


def _calmesh(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES and n != "calmesh"}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


SIDE_EFFECTS = ("services", "effects")


def _cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(nodes):
        if node not in index:
            strong(node)
    return groups


def test_services_and_side_effects_import_each_other_in_no_cycle():
    nodes = {m for m in MODULES if _layer(m) in SIDE_EFFECTS}
    edges = {
        m: {
            t
            for t in _calmesh(_top_level(MODULES[m], m) | _function_level(m))
            if t in nodes and t != m
        }
        for m in nodes
    }
    assert _cycles(nodes, edges) == []


def test_no_import_inside_a_function_in_services_or_side_effects():
    found = {
        m: sorted(_calmesh(_function_level(m)))
        for m in MODULES
        if _layer(m) in SIDE_EFFECTS and _calmesh(_function_level(m))
    }
    assert found == {}


def test_the_engine_imports_only_itself_the_standard_library_and_third_parties():
    outside = {
        m: sorted(
            t
            for t in _calmesh(_top_level(MODULES[m], m) | _function_level(m))
            if _layer(t) != "engine"
        )
        for m in MODULES
        if _layer(m) == "engine"
    }
    assert {m: v for m, v in outside.items() if v} == {}


def _crossing(a: str, b: str) -> list[tuple[str, str]]:
    return sorted(
        (m, t)
        for m in MODULES
        if _layer(m) == a
        for t in _calmesh(_top_level(MODULES[m], m) | _function_level(m))
        if _layer(t) == b
    )


def test_pages_and_the_rest_api_never_import_each_other():
    assert _crossing("web", "api") + _crossing("api", "web") == []


def test_services_import_no_layer_above_them():
    above = ("api", "web", "mcp", "cli")
    assert [c for layer in above for c in _crossing("services", layer)] == []


def test_input_declarations_import_only_the_schema_the_models_and_each_other():
    allowed = ("inputs", "schema", "models")
    outside = sorted(
        (m, t)
        for m in MODULES
        if _layer(m) == "inputs"
        for t in _calmesh(_top_level(MODULES[m], m) | _function_level(m))
        if _layer(t) not in allowed
    )
    assert outside == []


def test_the_checks_see_an_import_inside_a_function():
    tree = ast.parse("def f():\n    from calmesh.services import bookings\n")
    MODULES["calmesh.services.probe"] = tree
    try:
        assert "calmesh.services.bookings" in _function_level("calmesh.services.probe")
    finally:
        del MODULES["calmesh.services.probe"]


def test_the_checks_see_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(set(edges), edges) == [["a", "b", "c"]]


# Services take settings and a urls.Links from their caller instead of reading the
# running app: none imports Flask.
SERVICES = sorted(m for m in MODULES if _layer(m) == "services" and m != "calmesh.services")


def test_services_import_no_flask():
    assert SERVICES
    flask = {
        name: sorted(t for t in _top_level(MODULES[name], "") if "flask" in t) for name in SERVICES
    }
    assert {name: found for name, found in flask.items() if found} == {}
