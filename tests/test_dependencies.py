"""Every third-party module the package imports is declared in pyproject.toml (core or an extra).

The sandbox-side programs (`crossroads/tools/_*_program.py`, `_runner.py`, `_math_claims.py`) run under
the sandbox runtime's own Python, which `crossroads setup-sandbox` provisions; they are checked against
that list instead.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_SIDE = {"_runner.py", "_math_program.py", "_sql_program.py", "_math_claims.py"}
SANDBOX_PACKAGES = {"sympy", "numpy", "pyseccomp"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    return {re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"crossroads"}


def test_every_import_is_declared() -> None:
    distributions = packages_distributions()
    declared = _declared()
    missing: dict[str, list[str]] = {}
    for path in (ROOT / "crossroads").rglob("*.py"):
        if path.name in SANDBOX_SIDE:
            continue
        for module in _imports(path):
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not dists & declared:
                missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_sandbox_side_imports_are_provisioned() -> None:
    from crossroads.tools.runtime import PACKAGES

    provisioned = {re.split(r"[<>=!~ ]", p, maxsplit=1)[0].lower() for p in PACKAGES}
    for name in SANDBOX_SIDE:
        extra = _imports(ROOT / "crossroads" / "tools" / name) - SANDBOX_PACKAGES
        assert not extra, f"{name} imports {extra}, which the sandbox runtime does not have"
    assert SANDBOX_PACKAGES <= provisioned
