"""One check per assertion type.

Each returns a `Verdict` with what was expected and what happened, so a failure always reads "expected X; actual Y",
never just "failed".

Checks read the `AskResult` of the scenario's ask (the partial result when the ask failed) and the error,
if any. `not-<type>` inverts a verdict; a skipped check stays skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from crossroads.text import unwrap_fenced

if TYPE_CHECKING:
    from crossroads.result import AskResult
    from crossroads.testing.scenario import Assertion

Judge = Callable[[str, str, str], Awaitable["Grade"]]
"""(question, answer, rubric) -> grade; the runner builds one from the configured judge model."""


class Grade(BaseModel):
    """A judge's verdict on a rubric, promptfoo's `{reason, score, pass}`."""

    reason: str
    score: float
    passed: bool


@dataclass
class Observation:
    """What one scenario's ask produced."""

    question: str
    result: AskResult | None
    error: BaseException | None = None
    judge: Judge | None = None
    judge_unavailable: str = "no judge model is configured (set --judge or CROSSROADS_JUDGE to a real model)"


@dataclass
class Verdict:
    """The outcome of one assertion, with expected and actual values for the failure message."""

    passed: bool
    expected: Any = None
    actual: Any = None
    detail: str = ""
    skipped: str | None = None


class AssertionResult(BaseModel):
    """The outcome of one assertion, as reports show it."""

    type: str
    passed: bool
    skipped: bool = False
    message: str = ""
    expected: Any = None
    actual: Any = None


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 240 else value[:237] + "...")
    return json.dumps(value, default=str, ensure_ascii=False)


async def evaluate(assertion: Assertion, obs: Observation) -> AssertionResult:
    """Run one assertion against an observation (errors inside a check become failures that say why)."""
    try:
        verdict = await CHECKS[assertion.base_type](assertion, obs)
    except _NoResult as exc:
        verdict = Verdict(False, expected=assertion.value, actual=str(exc))
    if verdict.skipped is not None:
        return AssertionResult(type=assertion.type, passed=True, skipped=True, message=verdict.skipped)
    passed = verdict.passed != assertion.negated
    label = f"{assertion.type}" + (f" ({assertion.description})" if assertion.description else "")
    shown = verdict.expected if isinstance(verdict.expected, str) else _fmt(verdict.expected)
    expected = f"NOT {shown}" if assertion.negated else shown
    message = f"{label}: expected {expected}; actual {_fmt(verdict.actual)}"
    if verdict.detail:
        message += f" ({verdict.detail})"
    return AssertionResult(
        type=assertion.type, passed=passed, message=message, expected=verdict.expected, actual=verdict.actual
    )


class _NoResult(Exception):
    pass


def _result(obs: Observation) -> AskResult:
    if obs.result is None:
        raise _NoResult(f"no result: the ask failed ({obs.error})")
    return obs.result


def _answer(obs: Observation) -> str:
    return _result(obs).answer


# -- answer text --------------------------------------------------------------------------------------------


def _text_check(op: Callable[[str, Any], bool], fold: bool = False, describe: str = "") -> Callable[..., Any]:
    async def check(a: Assertion, obs: Observation) -> Verdict:
        text = _answer(obs)
        value = a.value
        if fold:
            text = text.lower()
            value = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()
        ok = op(text, value)
        return Verdict(ok, expected=f"{describe} {_fmt(a.value)}".strip(), actual=_answer(obs))

    return check


CHECKS: dict[str, Callable[[Assertion, Observation], Awaitable[Verdict]]] = {
    "equals": _text_check(lambda t, v: t.strip() == str(v).strip(), describe="answer equal to"),
    "contains": _text_check(lambda t, v: str(v) in t, describe="answer containing"),
    "icontains": _text_check(lambda t, v: v in t, fold=True, describe="answer containing (any case)"),
    "contains-any": _text_check(lambda t, v: any(x in t for x in v), describe="answer containing any of"),
    "icontains-any": _text_check(
        lambda t, v: any(x in t for x in v), fold=True, describe="answer containing (any case) any of"
    ),
    "contains-all": _text_check(lambda t, v: all(x in t for x in v), describe="answer containing all of"),
    "icontains-all": _text_check(
        lambda t, v: all(x in t for x in v), fold=True, describe="answer containing (any case) all of"
    ),
    "starts-with": _text_check(lambda t, v: t.lstrip().startswith(str(v)), describe="answer starting with"),
    "regex": _text_check(lambda t, v: re.search(str(v), t, re.MULTILINE) is not None, describe="answer matching regex"),
}


def _check(name: str) -> Callable[[Callable[..., Awaitable[Verdict]]], Callable[..., Awaitable[Verdict]]]:
    def register(fn: Callable[..., Awaitable[Verdict]]) -> Callable[..., Awaitable[Verdict]]:
        CHECKS[name] = fn
        return fn

    return register


@_check("is-json")
async def _is_json(a: Assertion, obs: Observation) -> Verdict:
    text = _answer(obs)
    try:
        data = json.loads(unwrap_fenced(text))
    except ValueError as exc:
        return Verdict(False, "an answer that is JSON", text, f"not JSON: {exc}")
    if not a.value:
        return Verdict(True, "an answer that is JSON", data)
    import jsonschema

    try:
        jsonschema.validate(data, a.value)
    except jsonschema.ValidationError as exc:
        path = "/".join(map(str, exc.absolute_path)) or "(root)"
        return Verdict(False, "JSON valid against the schema", data, f"at {path}: {exc.message}")
    return Verdict(True, "JSON valid against the schema", data)


@_check("length")
async def _length(a: Assertion, obs: Observation) -> Verdict:
    n = len(_answer(obs))
    lo, hi = _range(a)
    return Verdict(
        (lo is None or n >= lo) and (hi is None or n <= hi), f"answer length in [{lo}, {hi}] chars", f"{n} chars"
    )


def _range(a: Assertion) -> tuple[float | None, float | None]:
    if isinstance(a.value, dict):
        return a.value.get("min"), a.value.get("max")
    return None, a.threshold if a.threshold is not None else a.value


@_check("llm-rubric")
async def _rubric(a: Assertion, obs: Observation) -> Verdict:
    if obs.judge is None:
        return Verdict(True, skipped=f"llm-rubric skipped: {obs.judge_unavailable}")
    grade = await obs.judge(obs.question, _answer(obs), str(a.value))
    threshold = 0.5 if a.threshold is None else a.threshold
    return Verdict(
        grade.passed and grade.score >= threshold,
        f"rubric {a.value!r} with score >= {threshold}",
        f"score {grade.score:.2f}, pass={grade.passed}",
        grade.reason,
    )


# -- budget --------------------------------------------------------------------------------------------------


@_check("latency")
async def _latency(a: Assertion, obs: Observation) -> Verdict:
    ms = _result(obs).duration_ms
    return Verdict(ms <= float(a.threshold or 0), f"latency <= {a.threshold:g} ms", f"{ms:.0f} ms")


@_check("max-requests")
async def _max_requests(a: Assertion, obs: Observation) -> Verdict:
    n = _result(obs).usage.requests
    limit = a.threshold if a.threshold is not None else a.value
    return Verdict(n <= limit, f"at most {limit:g} model requests", f"{n} model requests")


@_check("tokens")
async def _tokens(a: Assertion, obs: Observation) -> Verdict:
    usage = _result(obs).usage
    actual = {"input": usage.input_tokens, "output": usage.output_tokens, "total": usage.total_tokens}
    limits = a.value if isinstance(a.value, dict) else {"total": a.threshold if a.threshold is not None else a.value}
    over = {k: actual[k] for k, v in limits.items() if actual[k] > v}
    return Verdict(
        not over, {f"max {k} tokens": v for k, v in limits.items()}, actual, f"over: {', '.join(over)}" if over else ""
    )


@_check("cost")
async def _cost(a: Assertion, obs: Observation) -> Verdict:
    total = 0.0
    for record in _result(obs).model_requests:
        if record.model.split(":")[0] == "offline" or record.model == "function":
            continue
        price = _price(record.model, record.input_tokens, record.output_tokens)
        if price is None:
            return Verdict(True, skipped=f"cost skipped: no price known for model '{record.model}'")
        total += price
    return Verdict(total <= float(a.threshold or 0), f"cost <= ${a.threshold:g}", f"${total:.6f}")


def _price(model: str, input_tokens: int, output_tokens: int) -> float | None:
    try:
        from genai_prices import Usage, calc_price

        return float(calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model).total_price)
    except Exception:
        return None


# -- trajectory ----------------------------------------------------------------------------------------------


def _calls(
    obs: Observation, name: str | None = None, pattern: str | None = None, agent: str | None = None
) -> list[dict[str, Any]]:
    """Tool calls as dicts (accepted handoffs count as calls of the `handoff` tool)."""
    result = _result(obs)
    calls = [{"name": c.name, "agent": c.agent, "args": c.arguments, "result": c.result} for c in result.tool_calls]
    calls += [
        {
            "name": "handoff",
            "agent": h.source,
            "args": {"to": h.target, "reason": h.reason},
            "result": {"accepted": h.accepted, "note": h.note},
        }
        for h in result.handoffs
    ]
    return [
        c
        for c in calls
        if (name is None or c["name"] == name)
        and (pattern is None or re.fullmatch(pattern, c["name"]))
        and (agent is None or c["agent"] == agent)
    ]


def _summary(calls: list[dict[str, Any]]) -> list[str]:
    return [f"{c['agent']}.{c['name']}" for c in calls]


@_check("trajectory:tool-used")
async def _tool_used(a: Assertion, obs: Observation) -> Verdict:
    spec = a.value
    if isinstance(spec, str | list):
        names = [spec] if isinstance(spec, str) else spec
        used = {c["name"] for c in _calls(obs)}
        missing = [n for n in names if n not in used]
        if a.negated:  # "none of these was used"
            hit = [n for n in names if n in used]
            return Verdict(bool(hit), f"tool(s) {names} used", _summary(_calls(obs)))
        return Verdict(
            not missing,
            f"tool(s) {names} used",
            _summary(_calls(obs)),
            f"missing: {', '.join(missing)}" if missing else "",
        )
    matched = _calls(obs, spec.get("name"), spec.get("pattern"), spec.get("agent"))
    lo, hi = spec.get("min", 1), spec.get("max")
    n = len(matched)
    what = spec.get("name") or spec.get("pattern")
    return Verdict(
        n >= lo and (hi is None or n <= hi),
        f"{what} called {lo}..{'' if hi is None else hi} times",
        f"{n} times; all calls: {_summary(_calls(obs))}",
    )


def _matches(expected: Any, actual: Any, exact: bool) -> bool:
    """Partial match: every expected key present with a matching value (recursively); exact: equality."""
    if exact:
        return bool(expected == actual)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k], False) for k, v in expected.items()
        )
    return bool(expected == actual)


async def _match_field(a: Assertion, obs: Observation, key: str) -> Verdict:
    spec = a.value
    calls = _calls(obs, spec.get("name"), spec.get("pattern"), spec.get("agent"))
    if key == "result" and "args" in spec:  # only the calls made with these arguments
        calls = [c for c in calls if _matches(spec["args"], c["args"], False)]
    exact = spec.get("mode", "partial") == "exact"
    want = spec[key]
    ok = any(_matches(want, c[key], exact) for c in calls)
    what = spec.get("name") or spec.get("pattern")
    seen: Any = [c[key] for c in calls] if calls else f"no {what} calls (calls: {_summary(_calls(obs))})"
    return Verdict(ok, {"tool": what, key: want, "mode": "exact" if exact else "partial"}, seen)


@_check("trajectory:tool-args-match")
async def _tool_args(a: Assertion, obs: Observation) -> Verdict:
    return await _match_field(a, obs, "args")


@_check("trajectory:tool-result-match")
async def _tool_result(a: Assertion, obs: Observation) -> Verdict:
    return await _match_field(a, obs, "result")


@_check("trajectory:tool-sequence")
async def _tool_sequence(a: Assertion, obs: Observation) -> Verdict:
    steps = a.value["steps"] if isinstance(a.value, dict) else a.value
    mode = a.value.get("mode", "in_order") if isinstance(a.value, dict) else "in_order"
    names = [c["name"] for c in _calls(obs)]
    ok = names == steps if mode == "exact" else _subsequence(steps, names)
    return Verdict(ok, {"steps": steps, "mode": mode}, names)


def _subsequence(want: list[Any], seq: list[Any]) -> bool:
    it = iter(seq)
    return all(any(x == y for y in it) for x in want)


# -- routing and handoffs ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@_check("route")
async def _route(a: Assertion, obs: Observation) -> Verdict:
    route = _result(obs).route
    spec: dict[str, Any] = {"includes": a.value} if isinstance(a.value, str | list) else dict(a.value)
    agents = route.agents
    problems = []
    for key, want in spec.items():
        if key == "includes" and (miss := [x for x in _as_list(want) if x not in agents]):
            problems.append(f"includes {miss} missing")
        elif key == "excludes" and (extra := [x for x in _as_list(want) if x in agents]):
            problems.append(f"excludes {extra} but they were chosen")
        elif key == "exactly" and sorted(_as_list(want)) != sorted(agents):
            problems.append(f"exactly {sorted(_as_list(want))}")
        elif key == "primary" and route.primary != want:
            problems.append(f"primary {want!r}, got {route.primary!r}")
        elif key == "min_confidence" and (not route.targets or route.targets[0].confidence < float(want)):
            problems.append(f"primary confidence >= {want}")
        elif key == "abstain" and route.abstain != bool(want):
            problems.append(f"abstain {bool(want)}")
        elif key == "stage" and route.stage != want:
            problems.append(f"stage {want!r}, got {route.stage!r}")
    actual = {
        "agents": agents,
        "abstain": route.abstain,
        "stage": route.stage,
        "confidence": {t.agent: round(t.confidence, 3) for t in route.targets},
    }
    return Verdict(not problems, {"route": spec}, actual, "; ".join(problems))


def _norm_path(path: list[str]) -> list[str]:
    return path if path and path[0] == "router" else ["router", *path]


@_check("handoff-path")
async def _handoff_path(a: Assertion, obs: Observation) -> Verdict:
    result = _result(obs)
    path = result.handoff_path
    spec: dict[str, Any] = {"path": a.value} if isinstance(a.value, list) else dict(a.value)
    accepted = [h for h in result.handoffs if h.accepted]
    edges = [f"{h.source}->{h.target}" for h in accepted]
    hops = max((h.hop for h in accepted), default=0)
    problems = []
    if "path" in spec and _norm_path(spec["path"]) != path:
        problems.append(f"path {_norm_path(spec['path'])}")
    if "contains" in spec and (miss := [x for x in _as_list(spec["contains"]) if x not in path]):
        problems.append(f"contains {miss} missing")
    if "in_order" in spec and not _subsequence(spec["in_order"], path):
        problems.append(f"in_order {spec['in_order']}")
    if "edges" in spec and (
        miss := [e.replace(" ", "") for e in _as_list(spec["edges"]) if e.replace(" ", "") not in edges]
    ):
        problems.append(f"edges {miss} not taken")
    if "max_hops" in spec and hops > int(spec["max_hops"]):
        problems.append(f"max_hops {spec['max_hops']}, took {hops}")
    if "min_hops" in spec and hops < int(spec["min_hops"]):
        problems.append(f"min_hops {spec['min_hops']}, took {hops}")
    refused = [f"{h.source}->{h.target}: {h.note}" for h in result.handoffs if not h.accepted]
    actual = {"path": path, "handoffs": edges, **({"refused": refused} if refused else {})}
    return Verdict(not problems, spec, actual, "; ".join(problems))


@_check("error")
async def _error(a: Assertion, obs: Observation) -> Verdict:
    spec = {"type": a.value} if isinstance(a.value, str) else dict(a.value or {})
    exc = obs.error
    if exc is None:
        return Verdict(False, {"error": spec} if spec else "the ask to fail", "the ask succeeded")
    names = {cls.__name__ for cls in type(exc).__mro__}
    limit = getattr(exc, "limit", None)
    problems = []
    want = spec.get("type")
    if want and want not in names and want != limit:
        problems.append(f"type {want!r}")
    if spec.get("limit") and spec["limit"] != limit:
        problems.append(f"limit {spec['limit']!r}")
    if spec.get("message") and spec["message"].lower() not in str(exc).lower():
        problems.append(f"message containing {spec['message']!r}")
    return Verdict(
        not problems,
        {"error": spec},
        {"type": type(exc).__name__, "limit": limit, "message": str(exc)},
        "; ".join(problems),
    )


@_check("status")
async def _status(a: Assertion, obs: Observation) -> Verdict:
    status = "error" if obs.error is not None else _result(obs).status
    return Verdict(status == a.value, f"status {a.value!r}", status)


# -- load-time shape checks ----------------------------------------------------------------------------------

_DICT_KEYS = {
    "route": {"includes", "excludes", "exactly", "primary", "min_confidence", "abstain", "stage"},
    "handoff-path": {"path", "contains", "in_order", "edges", "max_hops", "min_hops"},
    "trajectory:tool-used": {"name", "pattern", "agent", "min", "max"},
    "trajectory:tool-args-match": {"name", "pattern", "agent", "args", "mode"},
    "trajectory:tool-result-match": {"name", "pattern", "agent", "args", "result", "mode"},
    "trajectory:tool-sequence": {"steps", "mode"},
    "error": {"type", "limit", "message"},
    "length": {"min", "max"},
    "tokens": {"input", "output", "total"},
}
_NEEDS = {
    "equals": str,
    "contains": str,
    "icontains": str,
    "starts-with": str,
    "regex": str,
    "llm-rubric": str,
    "contains-any": list,
    "icontains-any": list,
    "contains-all": list,
    "icontains-all": list,
    "status": str,
}


def check_shape(a: Assertion) -> None:
    """Reject malformed values at load time, so mistakes name the scenario file, not a run failure."""
    t, v = a.base_type, a.value
    if t in _NEEDS and not isinstance(v, _NEEDS[t]):
        raise ValueError(f"{a.type}: 'value' must be a {_NEEDS[t].__name__}, got {type(v).__name__}")
    if t == "regex":
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex: invalid pattern {v!r}: {exc}") from None
    if t in ("latency", "cost") and a.threshold is None:
        raise ValueError(f"{a.type}: needs a 'threshold' ({'ms' if t == 'latency' else 'USD'})")
    if t in ("max-requests",) and a.threshold is None and not isinstance(v, int | float):
        raise ValueError(f"{a.type}: needs a 'threshold' (number of model requests)")
    if t == "status" and v not in ("ok", "out_of_scope", "error"):
        raise ValueError("status: 'value' must be ok, out_of_scope or error")
    if isinstance(v, dict) and t in _DICT_KEYS:
        unknown = sorted(set(v) - _DICT_KEYS[t])
        if unknown:
            raise ValueError(f"{a.type}: unknown key '{unknown[0]}'; known: {', '.join(sorted(_DICT_KEYS[t]))}")
    if t in ("trajectory:tool-args-match", "trajectory:tool-result-match"):
        key = "args" if t.endswith("args-match") else "result"
        if not isinstance(v, dict) or key not in v or not (v.get("name") or v.get("pattern")):
            raise ValueError(f"{a.type}: 'value' must be {{name, {key}, mode}}")
    if t in ("route", "handoff-path", "trajectory:tool-used") and not isinstance(v, str | list | dict):
        raise ValueError(f"{a.type}: 'value' must be a name, a list or a mapping")
    if t == "trajectory:tool-sequence" and not isinstance(v, list | dict):
        raise ValueError(f"{a.type}: 'value' must be a list of tool names or {{steps, mode}}")
