"""Claim kinds and the entry point of the sandboxed checker; crossroads never imports this module.

Sent to the sandbox appended to `_math_program.py` (whose names it uses), followed by a `main(...)`
call. Each recogniser turns one natural form of a claim into sympy objects and hands the comparison
to the deciders in `_math_program.py`.
"""

import io
import json
import re
import sys
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import sympy as sp

if TYPE_CHECKING:  # at run time these come from _math_program.py, which precedes this text
    from crossroads.tools._math_program import (
        _ASSUME,
        _DEADLINE,
        _FORBIDDEN,
        _NUM,
        _POINTS,
        BudgetExceeded,
        ClaimError,
        _value,
        _variance,
        attempt,
        close_to,
        decide_equal,
        decide_lists,
        describe,
        literal_unit,
        normalize,
        parse,
        split_relation,
        split_top,
        sstr,
    )

_VAR = r"([A-Za-z]\w*)"


def _args(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*parts, cur.strip()] if cur.strip() else parts


def _call(text: str, names: str) -> list[str] | None:
    m = re.fullmatch(rf"(?:{names})\s*\((.*)\)", text.strip(), flags=re.I)
    return _args(m.group(1)) if m else None


def _symbol(text: str, expr: Any) -> Any:
    if text:
        return sp.Symbol(text.strip())
    free = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(free) != 1:
        raise ClaimError("say which variable, e.g. 'd/dx ...' or 'diff(expr, x)'")
    return free[0]


def _values(text: str) -> list[Any]:
    """`x = 2, x = -2` / `[-2, 2]` / `2 and -2` -> parsed values."""
    t = re.sub(r"^\s*[\[{(]|[\]})]\s*$", "", text.strip())
    items = [i for i in re.split(r",|\band\b|\bor\b", t) if i.strip()]
    return [parse(i.split("=")[-1]) for i in items]


def _equation(text: str) -> Any:
    parts = split_top(text, r"\s*(=)\s*")
    return parse(parts[0][0]) - parse(parts[0][2]) if parts else parse(text)


# ---------------------------------------------------------------- kinds


def check_derivative(lhs: str, rhs: str) -> dict[str, Any] | None:
    m = re.fullmatch(r"d(?:\*\*|\^)?(\d)?\s*/\s*d" + _VAR + r"(?:\*\*|\^)?\d?\s*(.+)", lhs) or re.fullmatch(
        r"(?:the\s+)?derivative of (.+?)(?:\s+(?:with respect to|wrt)\s+" + _VAR + ")?", lhs, flags=re.I
    )
    args = _call(lhs, "diff|derivative|Derivative")
    if args:
        expr, var, n = parse(args[0]), sp.Symbol(args[1]) if len(args) > 1 else None, 1
        if len(args) > 2:
            n = int(args[2])
        var = var or _symbol("", expr)
    elif m and m.re.pattern.startswith("d"):
        n, var, expr = int(m.group(1) or 1), sp.Symbol(m.group(2)), parse(m.group(3))
    elif m:
        expr = parse(m.group(1))
        n, var = 1, _symbol(m.group(2) or "", expr)
    else:
        return None
    value = sp.diff(expr, var, n)
    return decide_equal(value, parse(rhs), "derivative") | {"lhs": f"d/d{var} ({sstr(expr)}) = {sstr(value)}"}


def check_integral(lhs: str, rhs: str, op: str) -> dict[str, Any] | None:
    args = _call(lhs, "integrate|integral|Integral")
    lo = hi = None
    if args:
        expr = parse(args[0])
        if len(args) > 1 and args[1].startswith("("):
            var, lo, hi = (_args(args[1][1:-1]) + [None, None])[:3]
        else:
            var = args[1] if len(args) > 1 else ""
            if len(args) == 4:
                lo, hi = args[2], args[3]
    else:
        m = re.fullmatch(
            r"(?:the\s+)?(?:definite\s+)?integral\s*(?:_\{?(.+?)\}?\s*\^\{?(.+?)\}?\s+)?(?:of\s+)?"
            r"(.+?)(?:\s*\bd" + _VAR + r")?(?:\s+from\s+(.+?)\s+to\s+(.+))?",
            lhs,
            flags=re.I,
        )
        if not m:
            return None
        expr = parse(m.group(3))
        var, lo, hi = m.group(4) or "", m.group(1) or m.group(5), m.group(2) or m.group(6)
    x = _symbol(var or "", expr)
    claimed = parse(rhs)
    if lo is None:
        F = claimed
        out = decide_equal(sp.diff(F, x), expr, "integral")
        return out | {
            "lhs": f"integral of {sstr(expr)} d{x}",
            "rhs": sstr(F),
            "explanation": f"d/d{x} of the rhs vs the integrand (up to a constant): {out.get('explanation')}",
        }
    a, b = parse(lo), parse(hi or "")
    value = attempt(lambda: sp.integrate(expr, (x, a, b)), None, 4.0)
    if value is None or value.has(sp.Integral):
        value = attempt(lambda: sp.Integral(expr, (x, a, b)).evalf(30), None, 4.0)
        if value is None:
            return {"kind": "integral", "verified": None, "explanation": "could not evaluate the integral in time"}
    return decide_equal(value, claimed, "integral", op, rhs) | {"lhs": f"integral of {sstr(expr)} from {a} to {b}"}


def check_limit(lhs: str, rhs: str, op: str) -> dict[str, Any] | None:
    args = _call(lhs, "limit|lim|Limit")
    direction = "+-"
    if args and len(args) >= 3:
        expr, x, point = parse(args[0]), sp.Symbol(args[1]), parse(args[2])
        if len(args) > 3:
            direction = args[3].strip("'\"")
    else:
        m = re.fullmatch(r"lim(?:it)?\s*_?\{?\s*" + _VAR + r"\s*->\s*([^}\s]+?)\s*([+-])?\}?\s+(?:of\s+)?(.+)", lhs)
        m2 = re.fullmatch(
            r"(?:the\s+)?lim(?:it)? of (.+?) as " + _VAR + r"\s*(?:->|approaches|goes to|tends to)\s*(.+)",
            lhs,
            flags=re.I,
        )
        if m:
            x, point, expr = sp.Symbol(m.group(1)), parse(m.group(2)), parse(m.group(4))
            direction = m.group(3) or direction
        elif m2:
            x, point, expr = sp.Symbol(m2.group(2)), parse(m2.group(3)), parse(m2.group(1))
        else:
            return None
    if point.is_infinite:
        direction = "-" if point == sp.oo else "+"
    value = attempt(lambda: sp.limit(expr, x, point, direction), None, 4.0)
    if value is None:
        return {"kind": "limit", "verified": None, "explanation": "sympy could not compute the limit in time"}
    return decide_equal(value, parse(rhs), "limit", op, rhs) | {
        "lhs": f"limit of {sstr(expr)} as {x} -> {sstr(point)} = {sstr(value)}"
    }


def _solutions(expr: Any, var: Any, real: bool = False) -> list[Any]:
    sols = attempt(lambda: sp.solve(expr, var), None, 4.0)
    if sols is None:
        raise ClaimError("sympy could not solve the equation in time")
    return [s for s in sols if not real or s.is_real]


def check_solve(text: str) -> dict[str, Any] | None:
    m = re.fullmatch(
        r"(.+?)\s+(?:has|have)\s+(no\s+(real\s+)?)?(?:real\s+)?(?:solutions?|roots?)"
        r"\s*(?::|are|is)?\s*(.*)",
        text,
        flags=re.I,
    )
    m2 = re.fullmatch(
        r"(?:the\s+)?(?:real\s+)?(?:solutions?|roots?|zeros?) (?:of|to) (.+?) (?:are|is|=)\s*(.+)", text, re.I
    )
    m3 = re.fullmatch(r"(.+?) is an? (?:solution|root|zero) (?:of|to) (.+)", text, flags=re.I)
    parts = split_top(text, r"\s*(=)\s*")
    args = _call(parts[0][0], "solve|solveset|roots") if parts else None
    if args:
        expr, claimed = _equation(args[0]), _values(parts[0][2])
        var = _symbol(args[1] if len(args) > 1 else "", expr)
    elif m3:
        expr = _equation(m3.group(2))
        var = _symbol(m3.group(1).split("=")[0] if "=" in m3.group(1) else "", expr)
        value = _values(m3.group(1))[0]
        residual = attempt(lambda: sp.simplify(expr.subs(var, value)), expr.subs(var, value))
        ok = residual == 0
        return {
            "kind": "solve",
            "verified": ok,
            "lhs": sstr(expr),
            "rhs": f"{var} = {sstr(value)}",
            "method": "exact",
            "difference": None if ok else sstr(residual),
            "counterexample": None if ok else {var.name: sstr(value)},
            "explanation": f"substituting gives {sstr(residual)}; all solutions: {sstr(_solutions(expr, var))}",
        }
    elif m or m2:
        eq, rest = (m.group(1), m.group(4)) if m else (m2.group(1), m2.group(2)) if m2 else ("", "")
        expr = _equation(eq)
        first = re.match(_VAR + r"\s*=", rest or "")
        var = _symbol(first.group(1) if first else "", expr)
        if m and m.group(2):
            sols = _solutions(expr, var, real=bool(m.group(3)))
            return {
                "kind": "solve",
                "verified": not sols,
                "lhs": sstr(expr),
                "rhs": "no solutions",
                "method": "exact",
                "counterexample": {var.name: sstr(sols[0])} if sols else None,
                "explanation": f"solutions: {sstr(sols)}" if sols else "no solutions found",
            }
        claimed = _values(rest)
    else:
        return None
    real = "real" in text.lower()
    sols = _solutions(expr, var, real)
    return decide_lists(sols, claimed, "solve") | {
        "assumptions": [f"{var} is real"] if real else [],
        "lhs": f"solutions of {sstr(expr)} = 0: {sstr(sols)}",
    }


_PROPS = (
    r"invertible|nonsingular|non-singular|singular|symmetric|positive definite|positive semi-?definite|"
    r"negative definite|orthogonal|diagonal|diagonalizable|upper triangular|lower triangular|square"
)


def check_matrix(text: str) -> dict[str, Any] | None:
    m = re.fullmatch(rf"(.+?) is (not )?(?:an? )?({_PROPS})(?: matrix)?", text, flags=re.I)
    if m:
        M = parse(m.group(1))
        if not isinstance(M, sp.MatrixBase):
            return None
        prop = m.group(3).lower().replace("-", "")
        square = M.is_square
        tests = {
            "invertible": lambda: square and M.det() != 0,
            "nonsingular": lambda: square and M.det() != 0,
            "singular": lambda: square and M.det() == 0,
            "symmetric": lambda: M == M.T,
            "positive definite": lambda: M == M.T and M.is_positive_definite,
            "positive semidefinite": lambda: M == M.T and M.is_positive_semidefinite,
            "positive semi-definite": lambda: M == M.T and M.is_positive_semidefinite,
            "negative definite": lambda: M == M.T and M.is_negative_definite,
            "orthogonal": lambda: square and sp.simplify(M * M.T - sp.eye(M.rows)).is_zero_matrix,
            "diagonal": lambda: M.is_diagonal(),
            "diagonalizable": lambda: square and M.is_diagonalizable(),
            "upper triangular": lambda: M.is_upper,
            "lower triangular": lambda: M.is_lower,
            "square": lambda: square,
        }
        has = attempt(tests[prop], None, 4.0)
        if has is None:
            return {"kind": "matrix", "verified": None, "explanation": f"could not decide '{prop}' in time"}
        facts = [f"shape {M.shape}"]
        if square:
            facts.append(f"det = {sstr(M.det())}")
            eig = attempt(lambda: M.eigenvals(multiple=True), None)
            if eig is not None:
                facts.append(f"eigenvalues {sstr(eig)}")
        ok = bool(has) != bool(m.group(2))
        return {
            "kind": "matrix",
            "verified": ok,
            "lhs": sstr(M.tolist()),
            "rhs": f"{m.group(2) or ''}{prop}",
            "method": "exact",
            "explanation": f"the matrix is {'' if has else 'not '}{prop}: {', '.join(facts)}",
        }
    m = re.fullmatch(r"(?:the )?eigenvalues of (.+?) (?:are|is|=) (.+)", text, flags=re.I) or re.fullmatch(
        r"(.+?) has eigenvalues (.+)", text, flags=re.I
    )
    if m:
        M = parse(m.group(1))
        return decide_lists(sorted(M.eigenvals(multiple=True), key=sp.default_sort_key), _values(m.group(2)), "matrix")
    return None


_METRICS = (
    r"f1|f-1|f1[- ]score|f[- ]score|f-?beta|accuracy|precision|recall|mean|average|median|"
    r"(?:sample |population )?(?:variance|std|standard deviation)"
)


def check_statistics(text: str, op: str) -> dict[str, Any] | None:
    low = text.lower()
    metric_m = re.search(rf"\b({_METRICS})\b", low)
    if not metric_m:
        return None
    metric = metric_m.group(1)
    left, rel, right = split_relation(text)
    if metric in ("mean", "average", "median") or "variance" in metric or "std" in metric or "deviation" in metric:
        data_text = left[metric_m.end() :]
        data = [sp.nsimplify(v) for v in re.findall(_NUM, data_text)]
        if not data or not re.fullmatch(_NUM, right.strip()):
            return None
        claimed = sp.nsimplify(right.strip().rstrip("%"))
        sample_only, pop_only = "sample" in metric, "population" in metric
        if metric in ("mean", "average"):
            cands = {"mean": sum(data) / len(data)}
        elif metric == "median":
            xs = sorted(data)
            n = len(xs)
            cands = {"median": xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2}
        else:
            root = (lambda v: sp.sqrt(v)) if ("std" in metric or "deviation" in metric) else (lambda v: v)
            cands = {}
            if not sample_only:
                cands["population"] = root(_variance(data))
            if not pop_only and len(data) > 1:
                cands["sample"] = root(_variance(data, sample=True))
        params = f"data {sstr(data)}"
    else:
        names = dict(
            re.findall(
                r"\b(precision|recall|p|r|tp|fp|tn|fn|beta|true positives?|false positives?|"
                rf"true negatives?|false negatives?)\s*(?:=|:|of|is)?\s*({_NUM})",
                low,
            )
        )
        alias = {
            "p": "precision",
            "r": "recall",
            "true positive": "tp",
            "true positives": "tp",
            "false positive": "fp",
            "false positives": "fp",
            "true negative": "tn",
            "true negatives": "tn",
            "false negative": "fn",
            "false negatives": "fn",
        }
        v = {alias.get(k, k): sp.nsimplify(x.rstrip("%")) / (100 if x.endswith("%") else 1) for k, x in names.items()}
        rest = re.sub(
            r"\b(precision|recall|p|r|tp|fp|tn|fn|beta|true positives?|false positives?|true negatives?|"
            rf"false negatives?)\s*(?:=|:|of|is)?\s*{_NUM}|\b({_METRICS})\b",
            " ",
            low,
        )
        nums = re.findall(_NUM, rest)
        if len(nums) != 1:
            raise ClaimError(f"{metric}: expected exactly one claimed value besides the named inputs, found {nums}")
        right = nums[0]
        claimed = sp.nsimplify(right.rstrip("%")) / (100 if right.endswith("%") else 1)
        right = right.rstrip("%") if not right.endswith("%") else str(float(claimed))
        beta = v.get("beta", 1)
        f_score = metric not in ("accuracy", "precision", "recall")
        if "precision" not in v and {"tp", "fp"} <= v.keys() and f_score:
            v["precision"] = v["tp"] / (v["tp"] + v["fp"])
        if "recall" not in v and {"tp", "fn"} <= v.keys() and f_score:
            v["recall"] = v["tp"] / (v["tp"] + v["fn"])
        formulas = {
            "accuracy": (
                ("tp", "tn", "fp", "fn"),
                lambda: (v["tp"] + v["tn"]) / (v["tp"] + v["tn"] + v["fp"] + v["fn"]),
            ),
            "precision": (("tp", "fp"), lambda: v["tp"] / (v["tp"] + v["fp"])),
            "recall": (("tp", "fn"), lambda: v["tp"] / (v["tp"] + v["fn"])),
        }
        need, fn = formulas.get(
            metric,
            (
                ("precision", "recall"),
                lambda: (1 + beta**2) * v["precision"] * v["recall"] / (beta**2 * v["precision"] + v["recall"]),
            ),
        )
        if not set(need) <= v.keys():
            raise ClaimError(f"{metric}: missing inputs {sorted(set(need) - v.keys())}")
        cands = {metric: fn()}
        params = ", ".join(f"{k}={sstr(x)}" for k, x in v.items())
    unit = literal_unit(right)
    results = {
        name: (val, close_to(float(val), float(claimed), unit) if unit and "." in right else (val == claimed or None))
        for name, val in cands.items()
    }
    hit = next((n for n, (_, how) in results.items() if how), None)
    shown = "; ".join(f"{n} = {sstr(val)} ≈ {float(val):.6g}" for n, (val, _) in results.items())
    first = next(iter(results.values()))[0]
    return {
        "kind": "statistics",
        "verified": hit is not None,
        "lhs": f"{metric} of {params}",
        "rhs": right,
        "method": "exact" if hit is None or results[hit][1] is True else "numeric",
        "explanation": shown + (f"; matches the {hit} value" if hit else ""),
        "difference": None if hit else f"{float(first) - float(claimed):.6g}",
    }


def check_inequality(lhs: Any, rhs: Any, op: str, domains: list[str] | None) -> dict[str, Any]:
    rel = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge, "!=": sp.Ne}[op]
    syms = sorted((lhs - rhs).free_symbols, key=lambda s: s.name)
    base = {"kind": "inequality", "lhs": sstr(lhs), "rhs": sstr(rhs)}
    if not syms:
        truth = attempt(lambda: bool(rel(lhs, rhs)), None)
        return base | {
            "verified": truth,
            "method": "exact",
            "difference": None if truth else sstr(lhs - rhs),
            "explanation": f"lhs = {_approx(lhs)}, rhs = {_approx(rhs)}",
        }
    for domain in domains or ["real", "positive"]:
        sub = {s: sp.Symbol(s.name, **_ASSUME[domain]) for s in syms}
        claim = rel(lhs.xreplace(sub), rhs.xreplace(sub))
        if len(syms) == 1:
            x = sub[syms[0]]
            over = sp.S.Reals if domain != "positive" else sp.Interval.open(0, sp.oo)
            fails = attempt(lambda claim=claim, x=x, over=over: sp.solveset(sp.Not(claim), x, domain=over))
            if fails is not None and fails is sp.S.EmptySet:
                return base | {
                    "verified": True,
                    "method": "symbolic",
                    "assumptions": describe(syms, domain),
                    "explanation": f"holds for every {x} ({domain})",
                }
            if fails is not None and fails is not sp.S.EmptySet:
                pt = _pick(fails)
                if pt is not None:
                    return base | {
                        "verified": False,
                        "counterexample": {x.name: sstr(pt)},
                        "assumptions": describe(syms, domain),
                        "explanation": f"fails for {x} in {sstr(fails)}",
                    }
        point = _failing_point(lhs.xreplace(sub), rhs.xreplace(sub), rel, list(sub.values()), domain)
        if point is not None:
            return base | {
                "verified": False,
                "counterexample": point,
                "assumptions": describe(syms, domain),
                "method": "numeric",
                "explanation": f"fails at {point}",
            }
    return base | {"verified": None, "explanation": "undecided: no counterexample at the sample points, but not proved"}


def _failing_point(lhs: Any, rhs: Any, rel: Any, syms: list[Any], domain: str) -> dict[str, Any] | None:
    pool = _POINTS.get(domain, _POINTS["real"])
    for k in range(len(pool)):
        point = {s: pool[(k + 3 * i) % len(pool)] for i, s in enumerate(syms)}
        lv, rv = _value(lhs, point), _value(rhs, point)
        if lv is not None and rv is not None and lv.is_real and rv.is_real and rel(lv, rv) == sp.false:
            return {s.name: float(v) for s, v in point.items()} | {"lhs": float(lv), "rhs": float(rv)}
    return None


def _approx(v: Any) -> str:
    return sstr(v) if v.is_Rational else f"{sstr(v)} ≈ {sstr(sp.N(v, 12))}"


def _pick(s: Any) -> Any:
    if isinstance(s, sp.FiniteSet):
        return min(s, key=sp.default_sort_key)
    if isinstance(s, sp.Union):
        return _pick(s.args[0])
    if isinstance(s, sp.Interval):
        if s.inf.is_finite and s.sup.is_finite:
            return (s.inf + s.sup) / 2
        return s.inf + 1 if s.inf.is_finite else (s.sup - 1 if s.sup.is_finite else 0)
    return None


_ASSUMPTION = re.compile(
    r"\s*,?\s*\b(?:for|where|assuming|when|if)\s+(?:(?:all|every|any|each)\s+)?"
    r"(?:(?P<dom>positive|real|non-?negative|negative|integer)\s+(?:real\s+)?(?:(?:numbers?|reals?|values?|integers?)\s+)?)?"
    r"(?P<vars>[A-Za-z](?:\s*(?:,|and)\s*[A-Za-z])*)\s*"
    r"(?:(?P<cmp>>=|>|<)\s*0|(?:is\s+|are\s+)?(?P<dom2>real|positive|negative|non-?negative)(?:\s+numbers?)?|"
    r"(?:in|∈)\s+(?P<set>R\+|ℝ\+|R|ℝ))?\s*$",
    flags=re.I,
)
"""A condition on the symbols at the end of a claim: "for all real x", "where a, b > 0", "for x in R+"."""


def _domain_of(m: re.Match[str]) -> str:
    """The sample domain a condition names; a bare "for all x" means the reals."""
    if m.group("set"):
        return "positive" if "+" in m.group("set") else "real"
    word = (
        m.group("dom")
        or m.group("dom2")
        or {">": "positive", ">=": "nonnegative", "<": "negative"}.get(m.group("cmp") or "", "real")
    )
    return word.lower().replace("-", "")


_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%\s*of\b", flags=re.I)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%(?!\s*[\w(.])")


def percentages(text: str, exact: bool = True) -> str:
    """`15% of 80` -> `(3/20)*80`, `25%` -> `(1/4)`; a % between operands stays modulo (`7 % 3`).

    With `exact=False` (a claimed value such as "33.3%") the percentage stays a decimal, so the claim is
    judged at the precision it was written.
    """

    def fraction(m: re.Match[str], times: str = "") -> str:
        if exact:
            value = Fraction(m.group(1)) / 100
            return f"({value.numerator}/{value.denominator}){times}"
        return f"({float(Fraction(m.group(1)) / 100)!r}){times}"

    text = _PERCENT_OF.sub(lambda m: fraction(m, "*"), text)
    return _PERCENT.sub(fraction, text)


def check(claim: str) -> dict[str, Any]:
    if len(claim) > 2000:
        raise ClaimError("claim too long (over 2000 characters)")
    if _FORBIDDEN.search(claim):
        raise ClaimError("refused: the claim contains Python syntax or names, not math")
    text = normalize(claim)
    domains = None
    am = _ASSUMPTION.search(text)
    if am:
        domains = [_domain_of(am)]
        text = text[: am.start()].strip().rstrip(",")
    for attempt_kind in (lambda: check_solve(text), lambda: check_matrix(text)):
        out = attempt_kind()
        if out is not None:
            return out
    left, op, right = split_relation(text)
    stats = check_statistics(text, op) if re.search(rf"\b({_METRICS})\b", text, flags=re.I) else None
    if stats is not None:
        return stats
    if "%" in text:
        left = percentages(left)
        right, rhs_text = percentages(right, exact=not re.fullmatch(r"\s*[-+]?[\d.]+\s*%\s*", right)), right
    else:
        rhs_text = right
    if op in ("<", ">", "<=", ">=", "!="):
        return check_inequality(parse(left), parse(right), op, domains)
    for kind in (
        lambda: check_derivative(left, right),
        lambda: check_integral(left, right, op),
        lambda: check_limit(left, right, op),
    ):
        out = kind()
        if out is not None:
            return out
    return decide_equal(parse(left), parse(right), "matrix" if "[[" in text else "equality", op, rhs_text, domains)


def main(claim: str, marker: str, budget: float) -> None:
    _DEADLINE[0] = time.monotonic() + budget
    real_stdout = sys.stdout
    sys.stdout = io.StringIO()  # stray prints from sympy (or the claim) never reach the result line
    try:
        result = check(claim)
    except ClaimError as exc:
        result = {"verified": None, "error": str(exc)[:500]}
    except (BudgetExceeded, RecursionError, MemoryError) as exc:
        result = {"verified": None, "error": f"gave up: {type(exc).__name__}"}
    except Exception as exc:  # any sympy failure is an undecided verdict, never a crash
        result = {"verified": None, "error": f"{type(exc).__name__}: {str(exc)[:400]}"}
    sys.stdout = real_stdout
    real_stdout.write("\n" + marker + json.dumps(result, default=str) + "\n")
    real_stdout.flush()
