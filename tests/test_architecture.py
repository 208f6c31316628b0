"""The package's shape, enforced: layers import only downward, and no two modules import each other.

The layer order is the data flow of a question (see docs/architecture.md): text and result models at the
bottom, then errors, configuration, cards and events, the trace and the graph, routing and the offline
model, providers, agents, the orchestrator, and the shells (server, scenario runner, CLI) on top. A
module may import its own package and anything in a lower layer; imports under `TYPE_CHECKING` are
annotations only and do not count. Lazy imports inside functions do count: they are still dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crossroads"

LAYERS: list[set[str]] = [
    {"result", "text", "redact"},
    {"errors", "logs"},
    {"config", "cards", "events", "telemetry", "conversation"},
    {"trace", "graph", "prompting", "tools", "storage"},
    {"router", "offline", "store", "streaming"},
    {"providers"},
    {"agents"},
    {"pipeline"},
    {"orchestrator"},
    {"server", "testing"},
    {"cli"},
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _runtime_imports(path: Path) -> set[str]:
    """crossroads modules imported by this file, outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("crossroads"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("crossroads"):
            base = node.module or ""
            for alias in node.names:  # `from crossroads.tools import sql` imports the module `sql`
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


IMPORTS = {module: _runtime_imports(path) for module, path in MODULES.items()}


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in MODULES} - {""}
    assert units <= set(LAYER), f"add to LAYERS: {sorted(units - set(LAYER))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _unit(m)))
def test_imports_go_down_the_layers(module: str) -> None:
    own = _unit(module)
    wrong = sorted(
        target
        for target in IMPORTS[module]
        if _unit(target) and _unit(target) != own and LAYER[_unit(target)] >= LAYER[own]
    )
    assert not wrong, f"{module} (layer {LAYER[own]}, '{own}') imports upward or sideways: {wrong}"


def test_no_import_cycles() -> None:
    graph: nx.DiGraph[str] = nx.DiGraph()
    for module, targets in IMPORTS.items():
        for target in targets:
            # A package's __init__ re-exporting its own modules is not a dependency of those modules.
            if module != target and not target.startswith(f"{module}."):
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"
