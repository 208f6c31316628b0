"""Claim extraction from natural phrasings, checked end to end: the exact claim read, then the real
check_math verdict through the sandbox. Negatives (prose, code, config) must yield nothing, and math that
cannot be read must be reported, never guessed."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import FakeToolbox

from crossroads import Orchestrator
from crossroads.offline.claims import Claim, ClaimScan, claim_in, extract_claims, scan_claims
from crossroads.tools.math_check import check_math
from crossroads.tools.toolbox import Toolbox

# (phrasing, extracted claim, claim kind, verdict from check_math)
PHRASINGS: list[tuple[str, str, str, bool]] = [
    # metrics from named quantities
    (
        "the F1 for a precision of 0.8 and a recall of 0.5 is 0.615?",
        "F1 with precision 0.8 and recall 0.5 = 0.615",
        "metric",
        True,
    ),
    (
        "Our fraud classifier has a precision of 0.9 and a recall of 0.6 on 12,000 transactions; is the F1 score 0.72?",
        "F1 with precision 0.9 and recall 0.6 = 0.72",
        "metric",
        True,
    ),
    (
        "I computed an F1 of 0.75 from precision 0.9 and recall 0.6 for the v2 model.",
        "F1 with precision 0.9 and recall 0.6 = 0.75",
        "metric",
        False,
    ),
    ("With P = 0.75 and R = 0.6, F1 = 0.667, right?", "F1 with precision 0.75 and recall 0.6 = 0.667", "metric", True),
    (
        "Is the F1-score 61.5% when precision is 80% and recall is 50%?",
        "F1 with precision 80% and recall 50% = 61.5%",
        "metric",
        True,
    ),
    (
        "The F2 score for precision 0.5 and recall 0.8 is 0.714, correct?",
        "F-beta with beta=2, precision 0.5 and recall 0.8 = 0.714",
        "metric",
        True,
    ),
    (
        "Precision with 40 true positives and 10 false positives is 0.8?",
        "precision with TP=40, FP=10 = 0.8",
        "metric",
        True,
    ),
    (
        "My model got 45 TP, 5 FP and 15 FN after 3 epochs, so recall is 0.80, right?",
        "recall with TP=45, FN=15 = 0.80",
        "metric",
        False,
    ),
    (
        "accuracy is 0.9 with TP=80, TN=10, FP=5, FN=5",
        "accuracy with TP=80, FP=5, TN=10, FN=5 = 0.9",
        "metric",
        True,
    ),
    ("If 45 out of 50 predictions are correct, is the accuracy 90%?", "45/50 = 90%", "metric", True),
    (
        "Precision is 0.8 and recall is 0.5 on the test split. So the F1 is 0.65, right?",
        "F1 with precision 0.8 and recall 0.5 = 0.65",
        "metric",
        False,
    ),
    (
        "My classifier has 45 true positives, 5 false positives and 15 false negatives. Is the recall 0.75?",
        "recall with TP=45, FN=15 = 0.75",
        "metric",
        True,
    ),
    ("So the recall of 30 TP with 10 FN is 0.75?", "recall with TP=30, FN=10 = 0.75", "metric", True),
    # mean, median, standard deviation
    ("The mean of 2, 4, 4, 4, 5, 5, 7, 9 is 5.", "mean of [2, 4, 4, 4, 5, 5, 7, 9] = 5", "statistics", True),
    (
        "Is the standard deviation of 2, 4, 4, 4, 5, 5, 7, 9 equal to 2?",
        "standard deviation of [2, 4, 4, 4, 5, 5, 7, 9] = 2",
        "statistics",
        True,
    ),
    ("The median of 3, 1, 4, 1, 5 is 3?", "median of [3, 1, 4, 1, 5] = 3", "statistics", True),
    ("I think the average of 10, 20 and 60 is 25", "mean of [10, 20, 60] = 25", "statistics", False),
    # derivatives: "the derivative of F is G", "with respect to x", d/dx, f'(x)
    ("Is it true that the derivative of x**3 is 3*x**2?", "d/dx (x**3) = 3*x**2", "derivative", True),
    (
        "Quick sanity check: the derivative of x^2 * sin(x) is 2x sin(x) + x^2 cos(x)?",
        "d/dx (x^2 * sin(x)) = 2x sin(x) + x^2 cos(x)",
        "derivative",
        True,
    ),
    ("My notes say the second derivative of x^4 is 12x^3.", "d^2/dx^2 (x^4) = 12x^3", "derivative", False),
    ("d/dx of e^(2x) is 2e^(2x), I think.", "d/dx (e^(2x)) = 2e^(2x)", "derivative", True),
    ("Differentiating ln(x) with respect to x gives 1/x, correct?", "d/dx (ln(x)) = 1/x", "derivative", True),
    ("Is the derivative of sin(t) with respect to t equal to -cos(t)?", "d/dt (sin(t)) = -cos(t)", "derivative", False),
    ("For f(x) = x^3 + 2x, f'(x) = 3x^2 + 2, right?", "d/dx (x^3 + 2x) = 3x^2 + 2", "derivative", True),
    (
        "the derivative of sin(x)^2 with respect to x is 2 sin(x) cos(x) (chain rule)",
        "d/dx (sin(x)^2) = 2 sin(x) cos(x)",
        "derivative",
        True,
    ),
    # integrals, definite ("from A to B", in words too) and indefinite
    ("the integral of x^2 from 0 to 3 is 9, right?", "integrate(x^2, (x, 0, 3)) = 9", "integral", True),
    ("the integral of x^2 from zero to three is 10", "integrate(x^2, (x, 0, 3)) = 10", "integral", False),
    ("Is the integral from 0 to 1 of x^2 dx equal to 1/3?", "integrate(x^2, (x, 0, 1)) = 1/3", "integral", True),
    ("Is the integral of e^(-x) from 0 to infinity 1?", "integrate(e^(-x), (x, 0, oo)) = 1", "integral", True),
    (
        "The definite integral of sin(x) from 0 to pi is 2, right?",
        "integrate(sin(x), (x, 0, pi)) = 2",
        "integral",
        True,
    ),
    ("the area under y = x^2 between x = 0 and x = 2 is 8/3", "integrate(x^2, (x, 0, 2)) = 8/3", "integral", True),
    ("∫_0^1 x^3 dx = 1/3", "integrate(x^3, (x, 0, 1)) = 1/3", "integral", False),
    ("Is the integral of 1/x dx equal to ln(x) + C?", "integrate(1/x, x) = ln(x) + C", "integral", True),
    (
        "The antiderivative of cos(x) is -sin(x) + C according to my textbook.",
        "integrate(cos(x), x) = -sin(x) + C",
        "integral",
        False,
    ),
    ("Integrating x e^x gives x e^x - e^x + C?", "integrate(x e^x, x) = x e^x - e^x + C", "integral", True),
    # limits
    ("the limit of sin(x)/x as x approaches 0 is 1", "limit(sin(x)/x, x, 0) = 1", "limit", True),
    (
        "Is the limit of (1 + 1/n)^n as n goes to infinity equal to e?",
        "limit((1 + 1/n)^n, n, oo) = e",
        "limit",
        True,
    ),
    ("The limit of 1/x as x approaches 0 from the right is infinity.", "limit(1/x, x, 0, '+') = oo", "limit", True),
    ("Is lim_{x->0} sin(3x)/x = 3?", "limit(sin(3x)/x, x, 0) = 3", "limit", True),
    ("As x approaches 2, (x^2 - 4)/(x - 2) approaches 5.", "limit((x^2 - 4)/(x - 2), x, 2) = 5", "limit", False),
    ("lim x->0 (1-cos(x))/x^2 = 1/2", "limit((1-cos(x))/x^2, x, 0) = 1/2", "limit", True),
    # matrices: "the <operation> of the matrix M", [[..]] and [a b; c d], named matrices
    ("the determinant of the matrix [[1,2],[3,4]] is -2", "det([[1, 2], [3, 4]]) = -2", "matrix", True),
    ("Is the determinant of [[2, 0], [0, 3]] equal to 5?", "det([[2, 0], [0, 3]]) = 5", "matrix", False),
    ("The matrix [1 2; 3 4] has determinant -2.", "det([[1, 2], [3, 4]]) = -2", "matrix", True),
    ("For A = [[2,1],[1,2]], the eigenvalues are 1 and 3.", "eigenvalues([[2, 1], [1, 2]]) = [1, 3]", "matrix", True),
    ("the eigenvalues of [[4, 1], [2, 3]] are 2 and 5", "eigenvalues([[4, 1], [2, 3]]) = [2, 5]", "matrix", True),
    ("The rank of the matrix [[1,2],[2,4]] is 2?", "rank([[1, 2], [2, 4]]) = 2", "matrix", False),
    (
        "Let B = [[4, 7], [2, 6]]. Then the inverse of B is [[0.6, -0.7], [-0.2, 0.4]].",
        "inverse([[4, 7], [2, 6]]) = [[0.6, -0.7], [-0.2, 0.4]]",
        "matrix",
        True,
    ),
    ("Is [[1, 2], [2, 4]] invertible?", "[[1, 2], [2, 4]] is invertible", "matrix", False),
    ("the trace of [[5,1],[2,3]] is 8", "trace([[5, 1], [2, 3]]) = 8", "matrix", True),
    # percentages
    ("Is 15% of 80 equal to 12?", "15% of 80 = 12", "percentage", True),
    ("20 percent of 150 is 35, right?", "20% of 150 = 35", "percentage", False),
    ("Is 12 30% of 40?", "30% of 40 = 12", "percentage", True),
    ("A 25% discount on $80 gives $60.", "80*(1 - 25%) = 60", "percentage", True),
    ("If I increase 50 by 20%, do I get 60?", "50*(1 + 20%) = 60", "percentage", True),
    ("A 10% raise on a $50,000 salary makes it $56,000, right?", "50000*(1 + 10%) = 56000", "percentage", False),
    ("Going from 200 to 150 is a 20% decrease.", "(200 - 150)/200 = 20%", "percentage", False),
    ("going from 40 to 50 is a 25% increase", "(50 - 40)/40 = 25%", "percentage", True),
    ("Our dashboard says 15% of 80 signups is 12 conversions, is that right?", "15% of 80 = 12", "percentage", True),
    # identities and inequalities over a domain ("for all real x")
    (
        "Is sin(x)^2 + cos(x)^2 = 1 for all real x?",
        "sin(x)^2 + cos(x)^2 = 1 for all real x",
        "identity",
        True,
    ),
    ("For all real x, e^x > 0.", "e^x > 0 for all real x", "inequality", True),
    ("Is sqrt(x^2) = x for all real x?", "sqrt(x^2) = x for all real x", "identity", False),
    (
        "Is it true that log(a*b) = log(a) + log(b) for all positive a and b?",
        "log(a*b) = log(a) + log(b) for all positive a, b",
        "identity",
        True,
    ),
    (
        "(x+1)^2 = x^2 + 2x + 1 holds for every real x, doesn't it?",
        "(x+1)^2 = x^2 + 2x + 1 for all real x",
        "identity",
        True,
    ),
    ("x^2 - 1 = (x - 1)(x + 1) for every x", "x^2 - 1 = (x - 1)(x + 1) for all real x", "identity", True),
    # "is A equal to B", "equals", "=", spoken arithmetic
    ("Is 2^10 equal to 1024?", "2^10 = 1024", "equality", True),
    ("Does 17 times 23 equal 392?", "17 * 23 = 392", "equality", False),
    ("Is 3/7 greater than 0.43?", "3/7 > 0.43", "inequality", False),
    ("x^2 + 1 is greater than 0 for every real x", "x^2 + 1 > 0 for all real x", "inequality", True),
    ("Is 2^10 at least 1000?", "2^10 >= 1000", "inequality", True),
    ("sqrt(2) is approximately 1.414", "sqrt(2) ≈ 1.414", "equality", True),
    (
        "We run 3 replicas each using 1.5 CPU cores. Is it true that 3*1.5 = 4.5?",
        "3*1.5 = 4.5",
        "equality",
        True,
    ),
    ("I computed 2 to the power of 10 and got 1000", "2**10 = 1000", "equality", False),
    # solutions of equations
    ("x = 2 and x = -2 are the solutions of x^2 = 4", "solve(x^2 = 4, x) = [2, -2]", "solve", True),
    ("Is x = 3 a solution of 2x + 1 = 7?", "x = 3 is a solution of 2x + 1 = 7", "solve", True),
    (
        "The roots of x^2 - 5x + 6 = 0 are 2 and 4, right?",
        "solve(x^2 - 5x + 6 = 0, x) = [2, 4]",
        "solve",
        False,
    ),
]

NOT_CLAIMS = [
    "We set replicas = 3 in the deployment and the HPA target is 70% CPU.",
    "Set `max_connections = 200` in postgresql.conf, is that too high?",
    "Our p99 latency is 450 ms at 1200 rps.",
    "3 replicas = 6 pods after the rollout?",
    "In Python, `x = x + 1` increments x.",
    "The accuracy drops from 92% to 61% after int8 quantization, why?",
    "What is the derivative of x^3?",
    "How do I compute the F1 score from precision and recall in sklearn?",
    "I use mixed precision (fp16) and the loss is NaN after 300 steps.",
    "The rate limit is 100 requests per minute per API key.",
    "if n % 2 == 0: return n // 2",
    "for i in range(10): total = total + i",
    "Why does 0.1 + 0.2 == 0.3 return false in JavaScript?",
    "We have 40% of traffic on the canary and 60% on stable.",
    "Our SLA is 99.9% and we depend on 6 services.",
    "The model has a precision of 0.8 on the validation set.",
    "Our stack trace shows the error at line 42.",
    "The inverse of the learning rate schedule is applied every 2 epochs.",
    "The limit of our free tier is 5 GB.",
    "y = mx + b is the line we fit.",
    "f(x) = x^2 + 1 is the function I want to plot.",
    "A = [[1,2],[3,4]] is what numpy prints.",
    "x = 2 and y = 3 in my config file.",
    "i += 1 inside the loop",
    "Does this print 45?\n```python\ntotal = 0\nfor i in range(10):\n    total = total + i\nprint(total == 45)\n```",
]

UNREADABLE = [
    "Is the derivative of the loss with respect to the weights equal to the gradient?",
    "Is it true that the sum of the first n odd numbers equals n^2?",
    "The F1 is 0.7 when precision is high and recall is low, right?",
    "Is the integral of my activation function from 0 to 1 equal to 0.5?",
    "Is the determinant of the covariance matrix equal to 3.2?",
    "Is it true that x = 2?",
    "Is the limit of the loss as the learning rate goes to 0 equal to 0?",
    "Is the limit of f(n) as n goes to infinity equal to 0?",
    "The derivative of x^3 at x = 2 is 12, right?",
    "True or false: the F1 score is 0.8 when precision and recall are both 0.8.",
]

pytestmark = pytest.mark.anyio


def test_the_table_covers_every_kind_several_times() -> None:
    kinds = Counter(kind for _, _, kind, _ in PHRASINGS)
    assert len(PHRASINGS) >= 60
    assert all(n >= 3 for n in kinds.values()), kinds
    assert {"metric", "derivative", "integral", "limit", "matrix", "percentage", "identity", "equality"} <= kinds.keys()
    assert all(v for *_, v in PHRASINGS) is False and any(v for *_, v in PHRASINGS)  # true and false claims


@pytest.mark.parametrize(("phrasing", "claim", "kind", "_verdict"), PHRASINGS, ids=[p[1] for p in PHRASINGS])
def test_extracts_the_claim(phrasing: str, claim: str, kind: str, _verdict: bool) -> None:
    scan = scan_claims(phrasing)
    assert [(c.text, c.kind) for c in scan.claims] == [(claim, kind)], scan
    assert scan.unextracted == []
    assert scan.claims[0].source in " ".join(phrasing.split())


@pytest.mark.parametrize(("phrasing", "claim", "kind", "verdict"), PHRASINGS, ids=[p[1] for p in PHRASINGS])
async def test_the_extracted_claim_gets_the_right_verdict(
    toolbox: Toolbox, phrasing: str, claim: str, kind: str, verdict: bool
) -> None:
    (found,) = extract_claims(phrasing)
    result = await check_math(toolbox, found.text)
    assert result.tier == "bwrap", result
    assert result.error is None, result
    assert result.verified is verdict, result


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_prose_code_and_config_are_not_claims(text: str) -> None:
    assert scan_claims(text) == ClaimScan(claims=[], unextracted=[])


@pytest.mark.parametrize("text", UNREADABLE)
def test_math_that_cannot_be_read_is_reported_not_guessed(text: str) -> None:
    assert scan_claims(text) == ClaimScan(claims=[], unextracted=[text])


def test_several_claims_in_order_with_a_limit() -> None:
    text = "Is 2+2 = 4? Also the derivative of x^2 is 2x. And is 15% of 80 equal to 12? Finally 3*3 = 9."
    assert [c.text for c in extract_claims(text)] == ["2+2 = 4", "d/dx (x^2) = 2x", "15% of 80 = 12"]
    assert [c.text for c in extract_claims(text, limit=1)] == ["2+2 = 4"]
    assert extract_claims("Is 2+2 = 4? Is 2+2 = 4?") == [Claim("2+2 = 4", "equality", "Is 2+2 = 4?")]


def test_definitions_carry_to_later_sentences_only() -> None:
    assert claim_in("Is det(A) = -2?") is None  # A is unknown on its own
    (claim,) = extract_claims("Let A = [[1,2],[3,4]]. Is det(A) = -2?")
    assert claim == Claim("det([[1, 2], [3, 4]]) = -2", "matrix", "Is det(A) = -2?")


async def test_the_offline_model_checks_the_extracted_claim_and_says_what_it_could_not_read(
    fake_toolbox: FakeToolbox,
) -> None:
    question = (
        "My classifier has a precision of 0.8 and a recall of 0.5. Is the F1 score 0.615? "
        "Is the derivative of the loss with respect to the weights equal to the gradient?"
    )
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        result = await crossroads.ask(question, agent="data-ai")
    assert ("check_math", "F1 with precision 0.8 and recall 0.5 = 0.615") in fake_toolbox.calls
    assert [c for c in fake_toolbox.calls if c[0] == "check_math"] == [
        ("check_math", "F1 with precision 0.8 and recall 0.5 = 0.615")
    ]
    assert (
        "I could not turn 'Is the derivative of the loss with respect to the weights equal to the gradient?' "
        "into a claim I can check." in result.answer
    )
