"""No import circles in lgstats, and wings in layers (issue 26): each module, and each sub-package taken whole
(connectors, submissions, real, synthetic), stands above what it imports; and each wing imports only the wings
below it: cli → services → pipeline → core, with devdata beside services (on pipeline and core) and imported by
no product wing. Function-local imports count: hiding an import in a function does not remove the dependency. A
new circle or an arrow that runs back up fails here, naming the files and lines."""

from __future__ import annotations

import ast

from lgstats.core.settings import PROJECT_DIR

PACKAGE = PROJECT_DIR / "ingestion" / "lgstats"
WHOLE = {"connectors", "submissions", "real", "synthetic"}  # sub-packages, each one room
LAYER = {"lgstats": -1, "core": 0, "pipeline": 1, "services": 2, "devdata": 2, "cli": 3}  # lgstats: __version__


def room(module: str) -> str | None:
    """lgstats.pipeline.connectors.sdmx → "pipeline.connectors/"; lgstats.core.warehouse → "core.warehouse"."""
    parts = module.split(".")
    if parts[0] != "lgstats":
        return None
    if len(parts) == 1:
        return "lgstats"
    if len(parts) >= 3 and parts[1] in LAYER:
        return f"{parts[1]}.{parts[2]}/" if parts[2] in WHOLE else f"{parts[1]}.{parts[2]}"
    return parts[1]


def wing(room_: str) -> str:
    return room_.split(".")[0]


def upward_or_sideways(edges: dict[str, set[tuple[str, str]]]) -> list[str]:
    """Imports from a wing to one at its own level or above (a wing's own modules may import each other)."""
    bad = []
    for here, targets in edges.items():
        for there, line in targets:
            a, b = wing(here), wing(there)
            if a != b and LAYER.get(b, 99) >= LAYER.get(a, 99):
                bad.append(f"{line}: {here} imports {there}")
    return sorted(bad)


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
             "lgstats.b": "def f():\n    from lgstats.pipeline.connectors import sdmx\n",
             "lgstats.pipeline.connectors.sdmx": "import lgstats.a\n",
             "lgstats.c": "from lgstats import a\n"}
    assert circles(import_edges(files)) == [["a", "b", "pipeline.connectors/"]]


def test_the_check_finds_an_arrow_up_or_sideways_hidden_in_a_function():
    files = {"lgstats.core.warehouse": "def f():\n    from lgstats.pipeline import registry\n",
             "lgstats.pipeline.registry": "from lgstats.core import warehouse\n",
             "lgstats.services.bi": "from lgstats.devdata.real import psa\n",
             "lgstats.devdata.real.psa": "from lgstats.pipeline import registry\nfrom lgstats import __version__\n"}
    assert upward_or_sideways(import_edges(files)) == [
        "lgstats.core.warehouse:2: core.warehouse imports pipeline.registry",
        "lgstats.services.bi:1: services.bi imports devdata.real/"]


def test_each_wing_imports_only_the_wings_below_it():
    assert upward_or_sideways(import_edges(package_sources())) == []


def test_lgstats_has_no_import_circles():
    edges = import_edges(package_sources())
    found = circles(edges)
    where = {tuple(c): sorted(f"{a} -> {t} ({line})" for a in c for t, line in edges.get(a, ()) if t in c)
             for c in found}
    assert found == [], where
