"""trace_max_bytes: what a bounded trace keeps, and that it stays a valid AskResult."""

from __future__ import annotations

import json

from crossroads.result import AskResult, ModelRequestRecord, RouteDecision, RouteTarget, ToolCallRecord
from crossroads.storage.base import encode
from crossroads.storage.bounds import bounded_json


def _result(**fields: object) -> AskResult:
    route = RouteDecision(targets=[RouteTarget(agent="core-dev", confidence=0.9, sub_question="q")])
    base: dict[str, object] = {"trace_id": "t" * 32, "question": "q?", "answer": "a", "route": route}
    return AskResult.model_validate({**base, **fields})


def test_small_traces_are_untouched() -> None:
    r = _result()
    text, cut = bounded_json(r, 10_000)
    assert not cut and text == r.model_dump_json()
    big = _result(answer="x" * 50_000)
    assert bounded_json(big, 0) == (big.model_dump_json(), False)


def test_the_longest_strings_are_cut_first() -> None:
    r = _result(answer="A" * 300_000, question="short question")
    text, cut = bounded_json(r, 100_000)
    assert cut and len(text.encode()) <= 100_000
    back = AskResult.model_validate_json(text)
    assert back.question == "short question" and back.answer.startswith("AAAA")
    assert "of 300000 characters cut, trace_max_bytes" in back.answer


def test_multibyte_text_is_bounded_in_bytes() -> None:
    text, cut = bounded_json(_result(answer="é" * 100_000), 50_000)
    assert cut and len(text.encode()) <= 50_000


def test_many_records_are_halved_when_short_strings_do_not_fit() -> None:
    calls = [ToolCallRecord(agent="core-dev", name="run_python", arguments={"i": i}) for i in range(3000)]
    reqs = [ModelRequestRecord(agent="core-dev", model="offline") for _ in range(3000)]
    r = _result(tool_calls=calls, model_requests=reqs)
    text, cut = bounded_json(r, 60_000)
    assert cut and len(text.encode()) <= 60_000
    back = AskResult.model_validate_json(text)
    assert 0 < len(back.tool_calls) < 3000 and back.tool_calls[0].arguments == {"i": 0}


def test_a_bound_too_small_for_anything_keeps_the_summary() -> None:
    r = _result(answer="B" * 20_000, tool_calls=[ToolCallRecord(agent="a", name="n")] * 50)
    r.route.scores = {f"agent-{i}": 0.5 for i in range(2000)}  # a mapping: neither a string nor a list to cut
    text, cut = bounded_json(r, 4_096)
    data = json.loads(text)
    assert cut and len(text.encode()) <= 4_096
    assert data["trace_id"] == "t" * 32 and data["route"]["targets"][0]["agent"] == "core-dev"
    assert "tool_calls" not in data and "cut" in data["answer"] and data["question"] == "q?"
    assert AskResult.model_validate_json(text).usage.requests == 0


def test_columns_of_a_cut_trace_with_any_status() -> None:
    r = _result(answer="C" * 200_000, question="Q" * 200_000)
    r.status = "cancelled"
    row = encode(r, 50_000)
    assert row.truncated and row.status == "cancelled" and len(row.data.encode()) <= 50_000
    assert row.question.startswith("QQQ") and len(row.question) < 200_000 and row.route == ["core-dev"]
