"""The import graph of ``revive/``: no cycles between modules, and no arrow from a package up to
one above it, counting imports inside functions. The layers are the architecture page's "may
import" column (docs/architecture.md); a new package must be placed in them."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import revive

ROOT = Path(revive.__file__).parent

# Lowest first. A module may import its own package and any package on a lower layer.
LAYERS: list[set[str]] = [
    {"batch"},  # the batch every dataset yields; color reads it
    {"revive", "errors", "color", "hardware", "visual"},
    {"io", "config", "extras", "safe"},
    {"data", "nets"},
    {"weights"},
    {"restore"},
    {"evaluation"},
    {"models"},
    {"training"},
    {"compare", "demo", "app"},
    {"bench"},  # measures everything, the page included
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the revive modules it imports, anywhere in its body."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in modules and t != name}
    return {name: edges[name] for name in modules}


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if package(module) in names)


def test_every_package_has_a_layer():
    placed = set().union(*LAYERS)
    assert {package(m) for m in import_graph()} <= placed


def test_no_import_goes_up_a_layer():
    upward = {
        (a, b)
        for a, targets in import_graph().items()
        for b in targets
        if package(a) != package(b) and layer(b) >= layer(a)
    }
    assert upward == set()


def test_no_module_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    """The graph counts a function-level import (the kind that hid weights -> restore)."""
    graph = import_graph()
    assert "revive.training.run" in graph["revive.training.cli"]  # imported inside main()


def documented_layers() -> list[set[str]]:
    """The layers as the architecture page's table lists them (``| N | `revive/x/`, ... |``)."""
    text = (ROOT.parent / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, flags=re.M)
    assert [int(n) for n, _ in rows] == list(range(len(rows))), "layers numbered 0, 1, 2 ..."
    names = []
    for _, cell in rows:
        paths = [
            p.removeprefix("revive/").removesuffix("/") for p in re.findall(r"`([^`]+)`", cell)
        ]
        names.append({"revive" if p == "__init__.py" else p.removesuffix(".py") for p in paths})
    return names


def test_the_architecture_page_lists_the_layers_the_test_enforces():
    assert documented_layers() == LAYERS
