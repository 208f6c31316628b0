"""Typed results of the tools specialists call. Field names are the same in `AskResult.tool_calls`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Tier = Literal["bwrap", "landlock", "unavailable", "unsafe-local"]
"""Isolation tier the code ran under (see crossroads/tools/sandbox.py); `unavailable` means it did not run."""


class PythonResult(BaseModel):
    """What `run_python` returns."""

    ok: bool
    """True when the snippet ran to completion with exit code 0."""
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    """Exception type and message plus a traceback without crossroads' frames, or why it could not run."""
    exit_code: int | None = None
    timed_out: bool = False
    truncated: bool = False
    duration_ms: float = 0.0
    tier: Tier = "unavailable"


MathKind = Literal[
    "equality",
    "identity",
    "derivative",
    "integral",
    "limit",
    "solve",
    "numeric",
    "matrix",
    "statistics",
    "inequality",
    "unknown",
]


class MathResult(BaseModel):
    """What `check_math` returns: the verdict and how it was reached."""

    verified: bool | None
    """True or false when decided; None when undecidable or unparseable (see `error`)."""
    kind: MathKind = "unknown"
    claim: str = ""
    lhs: str | None = None
    rhs: str | None = None
    assumptions: list[str] = Field(default_factory=list)
    """Assumptions on symbols used to decide, e.g. `a > 0`; empty means over the reals/complexes as parsed."""
    counterexample: dict[str, Any] | None = None
    difference: str | None = None
    """The simplified lhs - rhs, or the numeric difference, when the claim is false."""
    conditional: bool = False
    """With `verified: false`: the claim is false as stated (see `counterexample`) but holds under
    `assumptions` (e.g. log(a*b) = log(a) + log(b) for a > 0, b > 0)."""
    method: Literal["exact", "symbolic", "numeric"] | None = None
    """How it was decided: exact arithmetic, sympy simplification, or fixed-point numeric checks only."""
    explanation: str = ""
    error: str | None = None
    duration_ms: float = 0.0
    tier: Tier = "unavailable"


class SqlResult(BaseModel):
    """What `run_sql` returns."""

    ok: bool
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    error: str | None = None
    duration_ms: float = 0.0
    tier: Tier = "unavailable"
    engine: str = "sqlite"
