"""`check_math`: decide a mathematical claim with sympy, parsed and evaluated only inside the sandbox.

sympy's `sympify`/`parse_expr` evaluate Python, so the untrusted claim never touches a parser on the
host: it travels as a JSON string literal inside a checker program (`_math_program.py` followed by
`_math_claims.py`) that the sandbox runs. The verdict comes back as the last stdout line that starts
with a per-call random marker, so nothing the claim prints can pose as the result.
"""

from __future__ import annotations

import json
import secrets
import time
from functools import cache
from importlib import resources
from typing import Any, Protocol

from pydantic import ValidationError

from crossroads.tools.models import MathResult, PythonResult

DEFAULT_TIMEOUT = 5.0
"""Wall-clock seconds for one check when neither the caller nor the toolbox settings say otherwise."""
MAX_CLAIM_CHARS = 2000


class ProgramRunner(Protocol):
    """What `check_math` and `run_sql` need from the toolbox: run one program in the sandbox."""

    async def run_program(self, source: str, timeout: float | None = None) -> PythonResult: ...


@cache
def _checker_source() -> str:
    """The checker program: the deciders, then the claim kinds (which reuse the deciders' names)."""
    pkg = resources.files("crossroads.tools")
    core = (pkg / "_math_program.py").read_text(encoding="utf-8")
    kinds = (pkg / "_math_claims.py").read_text(encoding="utf-8")
    return core + "\n\n" + kinds


def build_program(claim: str, marker: str, budget: float) -> str:
    """The checker source plus a call with the claim as a JSON literal (decoded inside the sandbox)."""
    literal = json.dumps(claim)  # a JSON string, itself passed as a Python str literal to json.loads
    return _checker_source() + f"\n\nmain(json.loads({literal!r}), {marker!r}, {budget!r})\n"


def parse_marked(stdout: str, marker: str) -> dict[str, Any] | None:
    """The JSON object on the last stdout line that starts with `marker`, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(marker):
            try:
                data = json.loads(line[len(marker) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


async def check_math(toolbox: ProgramRunner, claim: str, timeout: float | None = None) -> MathResult:
    """Decide `claim` (e.g. `d/dx x**3 = 3*x**2`); never raises for a bad claim (see `MathResult.error`)."""
    started = time.perf_counter()
    claim = claim if isinstance(claim, str) else str(claim)
    if not claim.strip():
        return MathResult(verified=None, claim=claim, error="empty claim")
    if len(claim) > MAX_CLAIM_CHARS:
        return MathResult(verified=None, claim=claim[:200], error=f"claim longer than {MAX_CLAIM_CHARS} characters")
    # None keeps the toolbox's default, which is what lets it serve the call from its warm pool.
    settings = getattr(toolbox, "settings", None)
    wall = timeout or getattr(settings, "timeout", None) or DEFAULT_TIMEOUT
    marker = f"@@crossroads-math-{secrets.token_hex(8)}@@"
    # Leave the sandbox time to start and report; sympy steps stop at the inner budget.
    program = build_program(claim, marker, max(0.5, wall * 0.8 - 0.3))
    run = await toolbox.run_program(program, timeout=timeout)
    elapsed = (time.perf_counter() - started) * 1000
    common: dict[str, Any] = {"claim": claim, "tier": run.tier, "duration_ms": round(elapsed, 2)}
    if run.tier == "unavailable":
        return MathResult(verified=None, error=run.error or "code execution unavailable", **common)
    data = parse_marked(run.stdout, marker)
    if data is None:
        why = "timed out" if run.timed_out else (run.error or run.stderr.strip()[-300:] or "no result")
        return MathResult(verified=None, error=f"the checker did not return a verdict: {why}", **common)
    data.pop("claim", None)
    try:
        return MathResult(**data, **common)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        return MathResult(verified=None, error=f"malformed verdict from the checker: {why}", **common)
