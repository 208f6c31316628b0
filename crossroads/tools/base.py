"""What the specialists need from a toolbox: the interface `Toolbox` implements and tests fake."""

from __future__ import annotations

from typing import Any, Protocol

from crossroads.tools.models import MathResult, PythonResult, SqlResult


class SandboxTools(Protocol):
    """Runs the specialists' tools; `crossroads.tools.Toolbox` is the sandboxed implementation."""

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult: ...

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult: ...

    async def run_sql(
        self, query: str, tables: dict[str, list[dict[str, Any]]] | None = None, timeout: float | None = None
    ) -> SqlResult: ...

    async def aclose(self) -> None: ...
