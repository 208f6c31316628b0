"""Every assertion type passes on a matching result and fails on a mismatching one, saying expected vs actual."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.errors import LimitExceeded
from crossroads.result import (
    AskResult,
    HandoffRecord,
    ModelRequestRecord,
    RouteDecision,
    RouteTarget,
    ToolCallRecord,
    Usage,
)
from crossroads.testing.assertions import Grade, Observation, evaluate
from crossroads.testing.scenario import Assertion


def _result() -> AskResult:
    return AskResult(
        trace_id="t",
        question="q",
        answer='Use an HPA. {"ok": 1} Verified: FALSE',
        route=RouteDecision(
            targets=[
                RouteTarget(agent="cloud-infra", confidence=0.9, sub_question="q"),
                RouteTarget(agent="data-ai", confidence=0.4, sub_question="q"),
            ]
        ),
        handoff_path=["router", "cloud-infra", "core-dev", "data-ai"],
        handoffs=[
            HandoffRecord(source="cloud-infra", target="core-dev", hop=1),
            HandoffRecord(source="cloud-infra", target="language", hop=1, accepted=False, note="not a neighbour"),
        ],
        tool_calls=[
            ToolCallRecord(
                agent="cloud-infra",
                name="check_math",
                arguments={"claim": "2**10 = 1000"},
                result={"verified": False, "kind": "equality"},
            ),
            ToolCallRecord(
                agent="data-ai", name="run_python", arguments={"code": "print(1)"}, result={"ok": True, "stdout": "1\n"}
            ),
        ],
        model_requests=[ModelRequestRecord(agent="cloud-infra", model="offline", input_tokens=100, output_tokens=20)],
        usage=Usage(requests=3, input_tokens=100, output_tokens=20),
        duration_ms=120.0,
    )


async def _run(spec: dict[str, Any], obs: Observation | None = None) -> Any:
    return await evaluate(Assertion.model_validate(spec), obs or Observation(question="q", result=_result()))


CASES: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    # (passing assertion, failing assertion, a fragment of the failure message)
    ({"type": "equals", "value": 'Use an HPA. {"ok": 1} Verified: FALSE'}, {"type": "equals", "value": "x"}, "'x'"),
    ({"type": "contains", "value": "HPA"}, {"type": "contains", "value": "hpa"}, "answer containing 'hpa'"),
    ({"type": "icontains", "value": "hpa"}, {"type": "icontains", "value": "keda"}, "'keda'"),
    ({"type": "not-contains", "value": "KEDA"}, {"type": "not-contains", "value": "HPA"}, "expected NOT"),
    ({"type": "contains-any", "value": ["zzz", "HPA"]}, {"type": "contains-any", "value": ["a1", "b2"]}, "any of"),
    ({"type": "icontains-any", "value": ["hpa"]}, {"type": "icontains-any", "value": ["keda"]}, "any of"),
    ({"type": "contains-all", "value": ["HPA", "Use"]}, {"type": "contains-all", "value": ["HPA", "KEDA"]}, "all of"),
    ({"type": "icontains-all", "value": ["hpa", "use"]}, {"type": "icontains-all", "value": ["hpa", "x"]}, "all of"),
    ({"type": "starts-with", "value": "Use"}, {"type": "starts-with", "value": "HPA"}, "starting with"),
    ({"type": "regex", "value": r"Verified:\s+FALSE"}, {"type": "regex", "value": r"^\d+$"}, "matching regex"),
    ({"type": "length", "value": {"min": 10, "max": 100}}, {"type": "length", "value": {"max": 5}}, "chars"),
    ({"type": "latency", "threshold": 500}, {"type": "latency", "threshold": 50}, "120 ms"),
    ({"type": "max-requests", "threshold": 3}, {"type": "max-requests", "threshold": 2}, "3 model requests"),
    ({"type": "tokens", "value": {"total": 200}}, {"type": "tokens", "value": {"input": 50}}, "over: input"),
    ({"type": "cost", "threshold": 0.0}, {"type": "not-cost", "threshold": 1.0}, "cost <= $1"),
    (
        {"type": "trajectory:tool-used", "value": "check_math"},
        {"type": "trajectory:tool-used", "value": "run_sql"},
        "missing: run_sql",
    ),
    (
        {"type": "trajectory:tool-used", "value": ["check_math", "run_python", "handoff"]},
        {"type": "not-trajectory:tool-used", "value": ["run_sql", "run_python"]},
        "NOT",
    ),
    (
        {"type": "trajectory:tool-used", "value": {"name": "handoff", "min": 2, "max": 2}},
        {"type": "trajectory:tool-used", "value": {"name": "check_math", "min": 2}},
        "1 times",
    ),
    (
        {"type": "trajectory:tool-args-match", "value": {"name": "check_math", "args": {"claim": "2**10 = 1000"}}},
        {"type": "trajectory:tool-args-match", "value": {"name": "check_math", "args": {"claim": "1+1 = 2"}}},
        "2**10 = 1000",
    ),
    (
        {
            "type": "trajectory:tool-args-match",
            "value": {"name": "run_python", "args": {"code": "print(1)"}, "mode": "exact"},
        },
        {"type": "trajectory:tool-args-match", "value": {"name": "run_sql", "args": {}}},
        "no run_sql calls",
    ),
    (
        {"type": "trajectory:tool-result-match", "value": {"name": "check_math", "result": {"verified": False}}},
        {"type": "trajectory:tool-result-match", "value": {"name": "check_math", "result": {"verified": True}}},
        '"verified": false',
    ),
    (
        {"type": "trajectory:tool-sequence", "value": ["check_math", "handoff"]},
        {"type": "trajectory:tool-sequence", "value": {"steps": ["run_python"], "mode": "exact"}},
        "exact",
    ),
    (
        {
            "type": "route",
            "value": {
                "includes": ["cloud-infra"],
                "primary": "cloud-infra",
                "min_confidence": 0.8,
                "excludes": ["language"],
                "exactly": ["data-ai", "cloud-infra"],
                "abstain": False,
            },
        },
        {"type": "route", "value": {"primary": "data-ai"}},
        "primary 'data-ai', got 'cloud-infra'",
    ),
    ({"type": "route", "value": "data-ai"}, {"type": "route", "value": {"abstain": True}}, "abstain True"),
    (
        {"type": "handoff-path", "value": ["cloud-infra", "core-dev", "data-ai"]},
        {"type": "handoff-path", "value": ["router", "cloud-infra"]},
        '"path": ["router", "cloud-infra", "core-dev"',
    ),
    (
        {
            "type": "handoff-path",
            "value": {
                "contains": ["core-dev"],
                "edges": ["cloud-infra -> core-dev"],
                "max_hops": 1,
                "in_order": ["cloud-infra", "data-ai"],
            },
        },
        {"type": "handoff-path", "value": {"edges": ["cloud-infra->language"]}},
        "not taken",
    ),
    ({"type": "status", "value": "ok"}, {"type": "status", "value": "out_of_scope"}, "status 'out_of_scope'"),
    ({"type": "not-error"}, {"type": "error", "value": "max_hops"}, "the ask succeeded"),
    ({"type": "is-json", "value": None}, {"type": "is-json"}, "not JSON"),
]


@pytest.mark.parametrize(("good", "bad", "fragment"), CASES, ids=[c[0]["type"] + str(i) for i, c in enumerate(CASES)])
@pytest.mark.anyio
async def test_assertion_passes_and_fails_with_expected_vs_actual(
    good: dict[str, Any], bad: dict[str, Any], fragment: str
) -> None:
    obs = Observation(question="q", result=_result())
    assert obs.result is not None
    if good["type"] == "is-json":
        obs.result.answer = '```json\n{"a": [1, 2]}\n```'
    passed = await _run(good, obs)
    assert passed.passed and not passed.skipped, passed.message
    if bad["type"] == "is-json":
        obs.result.answer = "not json"
    failed = await _run(bad, obs)
    assert not failed.passed
    assert "expected" in failed.message and "actual" in failed.message
    assert fragment in failed.message, failed.message


@pytest.mark.anyio
async def test_is_json_checks_the_schema() -> None:
    result = _result()
    result.answer = '{"replicas": "three"}'
    obs = Observation(question="q", result=result)
    schema = {"type": "object", "properties": {"replicas": {"type": "integer"}}, "required": ["replicas"]}
    failed = await _run({"type": "is-json", "value": schema}, obs)
    assert not failed.passed and "at replicas" in failed.message and "not of type 'integer'" in failed.message
    result.answer = '{"replicas": 3}'
    assert (await _run({"type": "is-json", "value": schema}, obs)).passed


@pytest.mark.anyio
async def test_error_assertion_matches_type_limit_and_message() -> None:
    exc = LimitExceeded("max_hops", "handoff data-ai -> cloud-infra would be hop 1; the limit is 0")
    obs = Observation(question="q", result=_result(), error=exc)
    assert (await _run({"type": "error", "value": "max_hops"}, obs)).passed
    assert (await _run({"type": "error", "value": {"type": "RunError", "message": "data-ai -> cloud"}}, obs)).passed
    wrong = await _run({"type": "error", "value": {"limit": "timeout"}}, obs)
    assert not wrong.passed and "limit 'timeout'" in wrong.message and "max_hops" in wrong.message


@pytest.mark.anyio
async def test_llm_rubric_is_skipped_without_a_judge_and_graded_with_one() -> None:
    skipped = await _run({"type": "llm-rubric", "value": "mentions HPA"})
    assert skipped.skipped and "no judge model is configured" in skipped.message

    async def judge(question: str, answer: str, rubric: str) -> Grade:
        return Grade(
            reason="mentions it" if "HPA" in answer else "does not",
            score=0.9 if "HPA" in answer else 0.1,
            passed="HPA" in answer,
        )

    obs = Observation(question="q", result=_result(), judge=judge)
    assert obs.result is not None
    assert (await _run({"type": "llm-rubric", "value": "mentions HPA", "threshold": 0.8}, obs)).passed
    obs.result.answer = "nothing"
    failed = await _run({"type": "llm-rubric", "value": "mentions HPA"}, obs)
    assert not failed.passed and "score 0.10" in failed.message and "does not" in failed.message


@pytest.mark.anyio
async def test_assertions_on_a_failed_ask_without_result_say_so() -> None:
    obs = Observation(question="q", result=None, error=RuntimeError("boom"))
    failed = await _run({"type": "contains", "value": "x"}, obs)
    assert not failed.passed and "the ask failed (boom)" in failed.message
