"""Claim checker that runs INSIDE the sandbox; crossroads never imports this module.

`crossroads.tools.math_check` reads this file as text, appends a call to `main(...)` with the claim
embedded as a JSON string literal, and sends the program to the sandbox. sympy's parser evaluates
Python, so the untrusted claim must only ever be parsed here. The verdict is printed as one JSON line
after a per-call random marker; stray prints are captured and never reach the result channel.
Everything is deterministic: fixed sample points, and sympy steps bounded by a SIGALRM budget.
"""

from __future__ import annotations

import re
import signal
import time
from contextlib import contextmanager
from typing import Any

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    function_exponentiation,
    implicit_application,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)

_DEADLINE = [0.0]
_STEP = 2.0
_TRANSFORMS = standard_transformations + (
    implicit_multiplication,
    implicit_application,
    function_exponentiation,
    convert_xor,
)
_FORBIDDEN = re.compile(
    r"__|\b(import|exec|eval|compile|open|getattr|setattr|delattr|globals|locals|vars|lambda|os|sys|"
    r"subprocess|builtins|input|breakpoint|help|exit|quit|print|type|object|class|def)\b|[;`@]|\\"
)
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?%?"
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


class ClaimError(Exception):
    """The claim cannot be parsed or is not a kind this checker knows."""


class BudgetExceeded(Exception):
    pass


# ---------------------------------------------------------------- budget and parsing


@contextmanager
def _budget(seconds: float):
    seconds = max(0.05, min(seconds, _DEADLINE[0] - time.monotonic()))

    def _raise(signum: int, frame: Any) -> None:
        raise BudgetExceeded

    try:
        old = signal.signal(signal.SIGALRM, _raise)
    except ValueError:  # not the main thread: only the sandbox's wall clock bounds us
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def attempt(fn: Any, default: Any = None, seconds: float = _STEP) -> Any:
    """Run one sympy step under a time budget; a timeout or failure gives `default`."""
    try:
        with _budget(seconds):
            return fn()
    except BudgetExceeded:
        return default
    except Exception:
        return default


def _mat(m: Any) -> sp.MatrixBase:
    return m if isinstance(m, sp.MatrixBase) else sp.Matrix(m)


def _data(args: tuple[Any, ...]) -> list[Any]:
    return [sp.nsimplify(v) for v in (args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args)]


def _variance(*args: Any, sample: bool = False) -> Any:
    xs = _data(args)
    mu = sum(xs) / len(xs)
    return sum((x - mu) ** 2 for x in xs) / (len(xs) - (1 if sample else 0))


_LOCALS: dict[str, Any] = {
    "e": sp.E,
    "i": sp.I,
    "ln": sp.log,
    "lg": lambda x: sp.log(x, 10),
    "N": sp.Symbol("N"),
    "S": sp.Symbol("S"),
    "Q": sp.Symbol("Q"),
    "O": sp.Symbol("O"),
    "C": sp.Symbol("C"),
    "inf": sp.oo,
    "infinity": sp.oo,
    "Matrix": sp.Matrix,
    "det": lambda m: _mat(m).det(),
    "trace": lambda m: _mat(m).trace(),
    "tr": lambda m: _mat(m).trace(),
    "rank": lambda m: _mat(m).rank(),
    "inv": lambda m: _mat(m).inv(),
    "inverse": lambda m: _mat(m).inv(),
    "transpose": lambda m: _mat(m).T,
    "eigenvalues": lambda m: sorted(_mat(m).eigenvals(multiple=True), key=sp.default_sort_key),
    "eigenvals": lambda m: sorted(_mat(m).eigenvals(multiple=True), key=sp.default_sort_key),
    "mean": lambda *a: sum(_data(a)) / len(_data(a)),
    "variance": _variance,
    "var": _variance,
    "std": lambda *a: sp.sqrt(_variance(*a)),
    "median": lambda *a: _median(_data(a)),  # sympy has no median
    "choose": sp.binomial,
    "nCr": sp.binomial,
}


def _median(xs: list[Any]) -> Any:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def parse(text: str) -> Any:
    text = text.strip().rstrip(".")
    if not text:
        raise ClaimError("empty expression")
    try:
        with _budget(_STEP):
            return parse_expr(_matrix_literals(text), local_dict=dict(_LOCALS), transformations=_TRANSFORMS)
    except BudgetExceeded:
        raise ClaimError(f"parsing {text!r} took too long") from None
    except Exception as exc:
        raise ClaimError(f"cannot parse {text!r} as math: {type(exc).__name__}: {exc}") from None


def _matrix_literals(text: str) -> str:
    """`[[1,2],[3,4]]` -> `Matrix([[1,2],[3,4]])` so products and differences of matrices work."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("[[", i):
            depth, j = 0, i
            while j < len(text):
                depth += {"[": 1, "]": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(f"Matrix({text[i:j]})")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_FUNC_POWER = re.compile(r"\b(sin|cos|tan|cot|sec|csc|sinh|cosh|tanh|log|ln)\s*(?:\^|\*\*)\s*(\d+|\(\d+\))\s*")


def _function_powers(text: str) -> str:
    """`sin^2(x)` and `sin^2 x` -> `sin(x)**2`, as written in textbooks (sympy reads `sin**2` as a bad power)."""
    out, i = "", 0
    for m in _FUNC_POWER.finditer(text):
        if m.start() < i:
            continue
        j = m.end()
        if j < len(text) and text[j] == "(":
            depth, k = 0, j
            while k < len(text):
                depth += {"(": 1, ")": -1}.get(text[k], 0)
                k += 1
                if depth == 0:
                    break
            arg = text[j + 1 : k - 1]
        else:
            arg_m = re.match(r"[A-Za-z0-9_.]+", text[j:])
            if not arg_m:
                continue
            k, arg = j + arg_m.end(), arg_m.group(0)
        out += text[i : m.start()] + f"{m.group(1)}({arg})**{m.group(2)}"
        i = k
    return out + text[i:]


def normalize(claim: str) -> str:
    t = claim.strip()
    for a, b in {
        "−": "-",
        "–": "-",
        "×": "*",
        "·": "*",
        "⋅": "*",
        "÷": "/",
        "π": "pi",
        "∞": "oo",
        "≤": "<=",
        "≥": ">=",
        "≠": "!=",
        "≈": "~=",
        "≅": "~=",
        "→": "->",
        "∫": " integral ",
        "λ": "lamda",
        "θ": "theta",
        "α": "alpha",
        "β": "beta",
        "’": "'",
        "ⁿ": "**n",
    }.items():
        t = t.replace(a, b)
    t = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: f"**({m.group(0).translate(_SUPER)})", t)
    t = re.sub(r"√\s*(\d+(?:\.\d+)?|[A-Za-z]\w*)", r"sqrt(\1)", t).replace("√", "sqrt")
    t = _function_powers(t)
    t = re.sub(r"^(?:verify|check|prove|show|claim)(?:\s+that)?\s*:?\s*", "", t, flags=re.I)
    return re.sub(r"\s+", " ", t).strip().rstrip(".").strip()


def split_top(text: str, pattern: str) -> list[tuple[str, str, str]]:
    """Splits of `text` at matches of `pattern` outside brackets: [(left, op, right), ...]."""
    depth, depths = 0, []
    for ch in text:
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        depths.append(depth)
    return [
        (text[: m.start()].strip(), m.group(1), text[m.end() :].strip())
        for m in re.finditer(pattern, text)
        if (depths[m.start() - 1] if m.start() else 0) == 0
    ]


_REL = r"\s*(<=|>=|!=|==|~=|=|(?<![-<])>|<(?!=)|\bis\b|\bequals\b)\s*"


def split_relation(text: str) -> tuple[str, str, str]:
    parts = [p for p in split_top(text, _REL) if p[0] and p[2]]
    if not parts:
        raise ClaimError("no relation found: expected a claim such as 'lhs = rhs', 'a > b' or 'M is invertible'")
    left, op, right = parts[0]
    return left, {"==": "=", "is": "=", "equals": "="}.get(op, op), right


def sstr(x: Any, limit: int = 400) -> str:
    s = sp.sstr(x, full_prec=False) if isinstance(x, sp.Basic | list | tuple) else str(x)
    return s if len(s) <= limit else s[:limit] + "..."


def jsonable(v: Any) -> Any:
    v = sp.sympify(v)
    if v.is_Integer:
        return int(v)
    if v.is_real and v.is_number and not v.is_Rational:
        return float(v)
    return sstr(v)


# ---------------------------------------------------------------- deciding equality / identity

_POINTS = {
    "complex": [
        sp.Float("0.37") + sp.I * sp.Float("0.61"),
        sp.Float("-1.23") + sp.I * sp.Float("0.45"),
        sp.Float("2.17") - sp.I * sp.Float("1.31"),
        sp.Float("-0.71") - sp.I * sp.Float("2.09"),
        sp.Float("1.53") + sp.I * sp.Float("0.29"),
    ],
    "real": [sp.Float(v) for v in ("-1.37", "0.61", "2.23", "-0.45", "1.71", "-2.89", "3.07")],
    "positive": [sp.Float(v) for v in ("0.37", "1.61", "2.23", "0.45", "3.71", "1.29", "5.07")],
}
_NICE = {
    "complex": [-1, 2, -2, 3, sp.I, sp.Rational(1, 2)],
    "real": [-1, 2, -2, 3, sp.Rational(1, 2), -3],
    "positive": [2, 3, sp.Rational(1, 2), 5, 1, 4],
}
_ASSUME = {
    "complex": {},
    "real": {"real": True},
    "positive": {"positive": True},
    "nonnegative": {"nonnegative": True},
    "negative": {"negative": True},
    "integer": {"integer": True},
}


def _value(expr: Any, point: dict[Any, Any]) -> Any:
    v = attempt(lambda: sp.N(expr.subs(point) if point else expr, 30), None, 1.0)
    if v is None or not getattr(v, "is_number", False) or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return None
    return v


def _differs(lhs: Any, rhs: Any, point: dict[Any, Any]) -> tuple[Any, Any] | None:
    lv, rv = _value(lhs, point), _value(rhs, point)
    if lv is None or rv is None:
        return None
    gap = abs(complex(lv) - complex(rv))
    return (lv, rv) if gap > 1e-12 * max(1.0, abs(complex(lv)), abs(complex(rv))) else None


def counterexample(lhs: Any, rhs: Any, syms: list[Any], domain: str) -> dict[str, Any] | None:
    """A point where the sides differ: fixed generic points decide, then a nicer point is looked for."""
    pool = _POINTS.get(domain, _POINTS["real"])
    if not any(
        _differs(lhs, rhs, {s: pool[(k + 3 * i) % len(pool)] for i, s in enumerate(syms)}) for k in range(len(pool))
    ):
        return None
    nice = _NICE.get(domain, _NICE["real"])
    trials = [{s: v for s in syms} for v in nice] + [
        {s: nice[(k + i) % len(nice)] for i, s in enumerate(syms)} for k in range(len(nice))
    ]
    trials += [{s: pool[(k + 3 * i) % len(pool)] for i, s in enumerate(syms)} for k in range(len(pool))]
    for point in trials:
        hit = _differs(lhs, rhs, point)
        if hit:
            out = {s.name: jsonable(v) for s, v in point.items()}
            out.update(lhs=_tidy(lhs, point, hit[0]), rhs=_tidy(rhs, point, hit[1]))
            return out
    return None


def _tidy(expr: Any, point: dict[Any, Any], value: Any) -> str:
    """A side's value at a counterexample: exact when short (`2*I*pi`), else 12 digits."""
    exact = attempt(lambda: sp.simplify(expr.subs(point)), None, 0.3)
    if exact is not None and not exact.atoms(sp.Float) and len(sstr(exact)) < 40:
        return sstr(exact)
    return sstr(sp.N(value, 12), 80)


def is_zero(expr: Any) -> bool | None:
    """Symbolic zero test within the budget; None when sympy cannot tell in time."""
    if expr == 0:
        return True
    for step in (sp.simplify, lambda e: sp.expand(sp.expand_log(e, force=False)), sp.trigsimp):
        z = attempt(lambda step=step: step(expr), None)
        if z is not None and z == 0:
            return True
    return attempt(lambda: expr.equals(0), None)


def describe(syms: list[Any], domain: str) -> list[str]:
    fmt = {
        "real": "{} is real",
        "positive": "{} > 0",
        "nonnegative": "{} >= 0",
        "negative": "{} < 0",
        "integer": "{} is an integer",
    }.get(domain)
    return [fmt.format(s.name) for s in syms] if fmt else []


def decide_equal(
    lhs: Any, rhs: Any, kind: str, op: str = "=", rhs_text: str = "", domains: list[str] | None = None
) -> dict[str, Any]:
    if isinstance(lhs, list | tuple) or isinstance(rhs, list | tuple):
        return decide_lists(lhs, rhs, kind)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        return decide_matrices(lhs, rhs)
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    base = {"kind": kind, "lhs": sstr(lhs), "rhs": sstr(rhs)}
    syms = sorted((lhs - rhs).free_symbols, key=lambda s: s.name)
    if not syms:
        return base | decide_numbers(lhs, rhs, op, rhs_text, kind)
    if kind == "equality":
        base["kind"] = "identity"
    doms = domains or ["complex", "real", "positive"]
    failed: dict[str, Any] | None = None
    for domain in doms:
        sub = {s: sp.Symbol(s.name, **_ASSUME[domain]) for s in syms}
        L, R = lhs.xreplace(sub), rhs.xreplace(sub)
        cex = counterexample(L, R, list(sub.values()), domain)
        if cex is not None:
            failed = {"domain": domain, "cex": cex}
            continue
        proved = is_zero(L - R)
        if proved is False:
            continue
        where = "for all complex values" if domain == "complex" else f"for {', '.join(describe(syms, domain))}"
        how = (
            "sympy simplifies lhs - rhs to 0"
            if proved
            else ("no counterexample at the sample points; sympy could not simplify lhs - rhs to 0 in time")
        )
        out = base | {
            "verified": True,
            "assumptions": describe(syms, domain),
            "method": "symbolic" if proved else "numeric",
            "explanation": f"holds {where}: {how}",
        }
        if failed:  # false as stated; say where it does hold
            out |= {
                "verified": False,
                "counterexample": failed["cex"],
                "conditional": True,
                "explanation": f"false in general ({_cex_text(failed)}); holds {where}: {how}",
            }
        return out
    if failed:
        return base | {
            "verified": False,
            "counterexample": failed["cex"],
            "assumptions": describe(syms, failed["domain"]),
            "method": "numeric",
            "difference": sstr(attempt(lambda: sp.simplify(lhs - rhs), lhs - rhs)),
            "explanation": f"false even {_cex_text(failed)}"
            if failed["domain"] != doms[0]
            else f"false: {_cex_text(failed)}",
        }
    return base | {"verified": None, "explanation": "undecided: no counterexample found and no proof in time"}


def _cex_text(failed: dict[str, Any]) -> str:
    cex = failed["cex"]
    vals = ", ".join(f"{k}={v}" for k, v in cex.items() if k not in ("lhs", "rhs"))
    return f"over {failed['domain']} values at {vals}: lhs = {cex['lhs']}, rhs = {cex['rhs']}"


def literal_unit(text: str) -> float | None:
    """Half-width of the rounding interval a decimal literal implies (`3.14159` -> 1e-5)."""
    m = re.fullmatch(r"\s*[-+]?\d*(?:\.(\d*))?(?:[eE]([-+]?\d+))?\s*(%)?\s*", text)
    if not m or not re.search(r"\d", text):
        return None
    return 10.0 ** -(len(m.group(1) or "") - int(m.group(2) or 0) + (2 if m.group(3) else 0))


def close_to(value: float, claimed: float, unit: float) -> str | None:
    """How `claimed` agrees with `value` at the precision it was written: rounded or truncated."""
    diff = value - claimed
    if abs(diff) <= unit / 2 * (1 + 1e-9) + 1e-15 * abs(value):
        return "rounded"
    if 0 <= diff * (1 if value >= 0 else -1) < unit * (1 - 1e-12):
        return "truncated"
    return None


_INFINITE = (sp.oo, -sp.oo, sp.zoo)


def decide_numbers(lhs: Any, rhs: Any, op: str, rhs_text: str, kind: str) -> dict[str, Any]:
    if lhs in _INFINITE or rhs in _INFINITE:  # oo - oo is nan: compare infinities as values
        same = lhs == rhs
        return {
            "verified": same,
            "method": "exact",
            "difference": None if same else f"{sstr(lhs)} vs {sstr(rhs)}",
            "explanation": f"lhs = {sstr(lhs)}, rhs = {sstr(rhs)}",
        }
    has_float = bool(lhs.atoms(sp.Float) or rhs.atoms(sp.Float)) or op == "~="
    if not has_float:
        zero = is_zero(lhs - rhs)
        if zero is True:
            return {"verified": True, "method": "exact", "explanation": "both sides are exactly equal"}
        d = attempt(lambda: sp.simplify(lhs - rhs), lhs - rhs)
        dv = _value(d, {})
        if zero is False or (dv is not None and abs(complex(dv)) > 1e-20):
            return {
                "verified": False,
                "method": "exact",
                "difference": sstr(d),
                "explanation": f"lhs - rhs = {sstr(d)}" + (f" ≈ {sstr(sp.N(d, 12))}" if not d.is_Rational else ""),
            }
        return {"verified": None, "explanation": "could not decide whether lhs - rhs is zero"}
    lv, rv = _value(lhs, {}), _value(rhs, {})
    if lv is None or rv is None or not (lv.is_real and rv.is_real):
        return {"verified": None, "explanation": "a side has no finite real value"}
    unit = literal_unit(rhs_text) if rhs_text else None  # "33.3%" is 0.333 written to 0.001
    diff = float(lv) - float(rv)
    if unit is not None:
        how = close_to(float(lv), float(rv), unit)
        ok, tol = how is not None, f"agrees with the {how or 'given'} digits (unit {unit:g})"
    else:
        ok = abs(diff) <= 1e-9 * max(1.0, abs(float(lv)))
        tol = "relative tolerance 1e-9"
    return {
        "kind": "numeric" if kind == "equality" else kind,
        "verified": ok,
        "method": "numeric",
        "difference": None if ok else f"{diff:.6g}",
        "explanation": f"lhs = {sp.N(lv, 15)}, rhs = {sp.N(rv, 15)}, difference {diff:.3g}; "
        + (tol if ok else f"outside the tolerance of the digits given (unit {unit:g})" if unit else tol),
    }


def _same(a: Any, b: Any) -> bool:
    return bool(
        is_zero(sp.sympify(a) - sp.sympify(b)) is True
        or _differs(sp.sympify(a), sp.sympify(b), {}) is None
        and _value(sp.sympify(a), {}) is not None
    )


def decide_lists(lhs: Any, rhs: Any, kind: str) -> dict[str, Any]:
    """Multisets of values (solutions, eigenvalues): order does not matter."""
    a = list(lhs) if isinstance(lhs, list | tuple) else [lhs]
    b = list(rhs) if isinstance(rhs, list | tuple) else [rhs]
    missing, extra = list(a), []
    for v in b:
        hit = next((m for m in missing if _same(m, v)), None)
        if hit is None:
            extra.append(v)
        else:
            missing.remove(hit)
    ok = not missing and not extra
    expl = (
        "same values"
        if ok
        else "; ".join(
            p
            for p in (f"missing {sstr(missing)}" if missing else "", f"not correct: {sstr(extra)}" if extra else "")
            if p
        )
    )
    return {
        "kind": kind,
        "lhs": sstr(a),
        "rhs": sstr(b),
        "verified": ok,
        "explanation": expl,
        "difference": None if ok else expl,
        "method": "exact",
    }


def decide_matrices(lhs: Any, rhs: Any) -> dict[str, Any]:
    L, R = _mat(lhs), _mat(rhs)
    base = {"kind": "matrix", "lhs": sstr(L.tolist()), "rhs": sstr(R.tolist())}
    if L.shape != R.shape:
        return base | {"verified": False, "explanation": f"shapes differ: {L.shape} vs {R.shape}"}
    d = (L - R).applyfunc(lambda e: attempt(lambda: sp.simplify(e), e))
    ok = d.is_zero_matrix
    return base | {
        "verified": ok,
        "method": "exact",
        "difference": None if ok else sstr(d.tolist()),
        "explanation": "matrices are equal" if ok else f"lhs - rhs = {sstr(d.tolist())}",
    }
