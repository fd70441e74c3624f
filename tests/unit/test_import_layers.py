"""No import circles in lgstats (issue 26): each module, and each sub-package taken whole (connectors,
submissions, real, synthetic), stands above what it imports. Function-local imports count: hiding an import in a
function does not remove the dependency. A new circle fails here, naming the files and lines that close it."""

from __future__ import annotations

import ast

from lgstats.settings import PROJECT_DIR

PACKAGE = PROJECT_DIR / "ingestion" / "lgstats"
WHOLE = {"connectors", "submissions", "real", "synthetic"}  # sub-packages, each one room


def room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "lgstats" or len(parts) < 2:
        return None
    return f"{parts[1]}/" if parts[1] in WHOLE else parts[1]


def import_edges(files: dict[str, str]) -> dict[str, set[tuple[str, str]]]:
    """room → {(imported room, "file:line")} from the sources of ``files`` (module name → text)."""
    modules = set(files)
    edges: dict[str, set[tuple[str, str]]] = {}
    for module, text in files.items():
        here = room(module)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names]
                targets = [n for n in names if n in modules] or [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                there = room(target)
                if there and there != here:
                    edges.setdefault(here, set()).add((there, f"{module}:{node.lineno}"))
    return edges


def circles(edges: dict[str, set[tuple[str, str]]]) -> list[list[str]]:
    """Strongly connected groups of more than one room (Tarjan)."""
    graph = {k: {t for t, _ in v} for k, v in edges.items()}
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_sources() -> dict[str, str]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[module] = path.read_text(encoding="utf-8")
    return out


def test_the_check_finds_a_circle_hidden_in_a_function():
    files = {"lgstats.a": "from lgstats import b\n",
             "lgstats.b": "def f():\n    from lgstats.connectors import sdmx\n",
             "lgstats.connectors.sdmx": "import lgstats.a\n",
             "lgstats.c": "from lgstats import a\n"}
    assert circles(import_edges(files)) == [["a", "b", "connectors/"]]


def test_lgstats_has_no_import_circles():
    edges = import_edges(package_sources())
    found = circles(edges)
    where = {tuple(c): sorted(f"{a} -> {t} ({line})" for a in c for t, line in edges.get(a, ()) if t in c)
             for c in found}
    assert found == [], where
