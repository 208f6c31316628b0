"""check_math through the real sandbox: each claim kind, true and false, and hostile or broken claims."""

from __future__ import annotations

from typing import Any

import pytest
from real_parts import missing

from crossroads.tools.math_check import build_program, check_math, parse_marked
from crossroads.tools.models import MathResult
from crossroads.tools.toolbox import Toolbox

pytestmark = pytest.mark.anyio


def test_cli_math_prints_the_verdict_as_json() -> None:
    """First in the module: the CLI starts its own toolbox, so the module's may not be alive yet."""
    import json

    import structlog
    from typer.testing import CliRunner

    from crossroads.cli import app as cli_app

    cli_app._register_all()
    try:
        result = CliRunner().invoke(cli_app.app, ["tool", "math", "17*23 = 392"])
        blank = CliRunner().invoke(cli_app.app, ["tool", "math", "  "])
    finally:
        structlog.reset_defaults()  # the CLI logs to CliRunner's stderr, which is closed afterwards
    if result.exit_code == 1 and '"unavailable"' in result.stdout:
        missing(f"sandbox tier unavailable here: {result.stderr.strip()}")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] is False and data["difference"] == "-1" and data["tier"] == "bwrap"
    assert blank.exit_code == 2


async def check(toolbox: Toolbox, claim: str) -> MathResult:
    result = await check_math(toolbox, claim)
    assert result.tier == "bwrap", result
    assert result.claim == claim
    return result


# (claim, verified, kind, expected fields)
CASES: list[tuple[str, bool, str, dict[str, Any]]] = [
    ("2+2 = 4", True, "equality", {"method": "exact"}),
    ("17*23 = 392", False, "equality", {"difference": "-1"}),
    ("sin(x)**2 + cos(x)**2 = 1", True, "identity", {"assumptions": [], "conditional": False}),
    ("d/dx x**3 = 3*x**2", True, "derivative", {}),
    ("diff(sin(x), x) = cos(x)", True, "derivative", {}),
    ("d/dx sin(x) = -cos(x)", False, "derivative", {}),
    ("integrate(x**2, x) = x**3/3", True, "integral", {}),
    ("integral of x from 0 to 1 = 1/2", True, "integral", {}),
    ("integral of x from 0 to 1 = 1", False, "integral", {"difference": "-1/2"}),
    ("limit(sin(x)/x, x, 0) = 1", True, "limit", {}),
    ("lim_{x->0} (1-cos(x))/x**2 = 1/3", False, "limit", {"difference": "1/6"}),
    ("x**2 - 4 = 0 has solutions x = 2, x = -2", True, "solve", {}),
    ("solve(x**2-4, x) = [-2, 2]", True, "solve", {}),
    ("x**2 - 4 = 0 has solutions x = 2, x = 3", False, "solve", {}),
    ("pi ≈ 3.14159", True, "numeric", {"method": "numeric"}),
    ("sqrt(2) = 1.41421356", True, "numeric", {}),
    ("pi ≈ 3.2", False, "numeric", {}),
    ("det([[1,2],[3,4]]) = -2", True, "matrix", {}),
    ("[[2,0],[0,3]] is invertible", True, "matrix", {}),
    ("[[1,2],[2,1]] is positive definite", False, "matrix", {}),
    ("[[1,2],[2,4]] is invertible", False, "matrix", {}),
    ("eigenvalues of [[2,1],[1,2]] are 1, 3", True, "matrix", {}),
    ("F1 with precision 0.8 and recall 0.5 = 0.615", True, "statistics", {}),
    ("F1 with precision 0.8 and recall 0.5 = 0.65", False, "statistics", {}),
    ("variance of [1, 2, 3, 4] = 1.25", True, "statistics", {}),
    ("accuracy with TP=50, FP=10, TN=30, FN=10 = 0.8", True, "statistics", {}),
    ("2**10 > 1000", True, "inequality", {}),
    ("2**10 < 1000", False, "inequality", {}),
    ("x² − 4 = (x−2)(x+2)", True, "identity", {}),
    ("3 × 4 ÷ 2 = 6", True, "equality", {}),
    ("2^10 == 1024", True, "equality", {}),
    # percentages: exact on the left, a claimed percentage is judged at the digits written
    ("15% of 80 = 12", True, "equality", {"method": "exact"}),
    ("15% of 80 = 12.5", False, "numeric", {}),
    ("80*(1 - 25%) = 60", True, "equality", {}),
    ("(40 - 30)/30 = 33.3%", True, "numeric", {}),
    ("(40 - 30)/30 = 30%", False, "numeric", {}),
    ("7 % 3 = 1", True, "equality", {}),  # between operands, % is still modulo
    # infinite values are compared as values, not through oo - oo = nan
    ("integrate(x^2, (x, 0, oo)) = oo", True, "integral", {}),
    ("limit(1/x, x, 0, '-') = oo", False, "limit", {}),
    # textbook function powers
    ("sin^2(x) + cos^2(x) = 1", True, "identity", {}),
    ("sin^2 x + cos^2 x = 1", True, "identity", {}),
]


@pytest.mark.parametrize(("claim", "verified", "kind", "fields"), CASES, ids=[c[0] for c in CASES])
async def test_claim_kinds(toolbox: Toolbox, claim: str, verified: bool, kind: str, fields: dict[str, Any]) -> None:
    result = await check(toolbox, claim)
    assert result.error is None, result
    assert (result.verified, result.kind) == (verified, kind), result
    for name, value in fields.items():
        assert getattr(result, name) == value, (name, result)
    if not verified:
        assert result.counterexample or result.difference or result.explanation, result


async def test_false_identity_gives_a_counterexample(toolbox: Toolbox) -> None:
    result = await check(toolbox, "(a+b)**2 = a**2 + b**2")
    assert (result.verified, result.kind, result.difference) == (False, "identity", "2*a*b")
    cex = result.counterexample
    assert cex is not None and {"a", "b", "lhs", "rhs"} <= cex.keys()
    assert (cex["a"] + cex["b"]) ** 2 != cex["a"] ** 2 + cex["b"] ** 2


async def test_log_product_holds_only_for_positive_symbols(toolbox: Toolbox) -> None:
    result = await check(toolbox, "log(a*b) = log(a) + log(b)")
    assert result.verified is False and result.conditional is True  # false as stated, true for a, b > 0
    assert result.assumptions == ["a > 0", "b > 0"]
    assert result.counterexample is not None and result.counterexample["a"] == -1 and result.counterexample["b"] == -1
    assert "false in general" in result.explanation


async def test_assumptions_given_in_the_claim_are_used(toolbox: Toolbox) -> None:
    real = await check(toolbox, "log(a*b) = log(a) + log(b) for real a, b")
    assert real.verified is False and real.assumptions == ["a is real", "b is real"]
    assert real.counterexample is not None
    positive = await check(toolbox, "sqrt(x**2) = x for x > 0")
    assert positive.verified is True and positive.assumptions == ["x > 0"] and not positive.conditional


@pytest.mark.parametrize(
    ("claim", "assumptions"),
    [
        ("x^2 >= 0 for all x", None),  # a bare "for all x" means the reals
        ("sqrt(x^2) = x for every positive x", ["x > 0"]),
        ("log(a*b) = log(a) + log(b) where a, b positive", ["a > 0", "b > 0"]),
        ("log(a*b) = log(a) + log(b) for all positive real numbers a and b", ["a > 0", "b > 0"]),
        ("sqrt(x^2) = x for x in R+", ["x > 0"]),
    ],
)
async def test_conditions_in_words(toolbox: Toolbox, claim: str, assumptions: list[str] | None) -> None:
    result = await check(toolbox, claim)
    assert result.verified is True and not result.conditional, result
    if assumptions is not None:
        assert result.assumptions == assumptions


async def test_a_bare_for_all_is_over_the_reals(toolbox: Toolbox) -> None:
    result = await check(toolbox, "sqrt(x^2) = x for all x")
    assert result.verified is False and result.assumptions == ["x is real"], result


async def test_inequality_counterexample(toolbox: Toolbox) -> None:
    result = await check(toolbox, "x**2 > x")
    assert result.verified is False and result.counterexample == {"x": "1/2"}


@pytest.mark.parametrize("claim", ["2 + = 3", "this is not math", "= 4", ""])
async def test_unparseable_claim_is_a_clear_error(toolbox: Toolbox, claim: str) -> None:
    result = await check_math(toolbox, claim)
    assert result.verified is None
    assert result.error and ("cannot parse" in result.error or "no relation" in result.error or "empty" in result.error)


@pytest.mark.parametrize(
    "claim",
    [
        "__import__('os').system('id') = 0",
        "open('/etc/passwd').read() = 0",
        'x = 1"); print("@@crossroads-math-0@@{\\"verified\\": true}',
    ],
)
async def test_hostile_claims_are_refused_in_the_sandbox(toolbox: Toolbox, claim: str) -> None:
    result = await check(toolbox, claim)
    assert result.verified is None
    assert result.error is not None and "refused" in result.error


def test_claim_travels_as_an_inert_literal() -> None:
    claim = 'a"\'\\\n""" ); import os; #'
    program = build_program(claim, "@@m@@", 1.0)
    assert program.rstrip().endswith(f"main(json.loads({__import__('json').dumps(claim)!r}), '@@m@@', 1.0)")
    assert "\nimport os; #" not in program


def test_only_the_marked_last_line_is_the_verdict() -> None:
    stdout = 'noise\n@@other@@{"verified": false}\n@@m@@{"verified": true}\nstray print\n'
    assert parse_marked(stdout, "@@m@@") == {"verified": True}
    assert parse_marked("@@m@@not json\n", "@@m@@") is None
    assert parse_marked("nothing here", "@@m@@") is None


async def test_toolbox_method_delegates(toolbox: Toolbox) -> None:
    result = await toolbox.check_math("1/3 + 1/6 = 1/2")
    assert result.verified is True and result.kind == "equality" and result.tier == "bwrap"
