"""The pipeline end to end on the offline model: routing, specialists, tools, handoffs, synthesis, limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import FakeToolbox
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.config import load_settings
from crossroads.errors import InputError, LimitExceeded
from crossroads.orchestrator import Orchestrator
from crossroads.providers import ModelFactory
from crossroads.result import AskResult, RouteDecision, RouteTarget

pytestmark = pytest.mark.anyio

K8S_QUESTION = (
    "How should I deploy a fine-tuned LLM behind an autoscaled API on Kubernetes, and which metrics"
    " do I monitor for drift?"
)


class FixedRouter:
    def __init__(self, *agents: str) -> None:
        self.agents = agents

    async def route(self, question: str) -> RouteDecision:
        if not self.agents:
            return RouteDecision(abstain=True, stage="fixed", reason="test")
        return RouteDecision(
            targets=[RouteTarget(agent=a, confidence=0.9, sub_question=question) for a in self.agents], stage="fixed"
        )


def scripted_handoffs(chain: dict[str, str]) -> Any:
    """A model that hands off along `chain` (agent -> neighbour) once, then answers with its name."""

    def model_for(self: ModelFactory, name: str) -> FunctionModel:
        def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            returns = [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
            if name in chain and not returns:
                return ModelResponse(parts=[ToolCallPart("handoff", {"to": chain[name], "question": "part"})])
            got = " | ".join(str(r.content) for r in returns)
            return ModelResponse(parts=[TextPart(f"{name} answered. {got}")])

        return FunctionModel(respond, model_name=f"scripted:{name}")

    return model_for


async def test_done_when_question_routes_to_data_ai_and_cloud(fake_toolbox: FakeToolbox) -> None:
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        result = await crossroads.ask(K8S_QUESTION)
    visited = set(result.handoff_path)
    assert {"data-ai", "cloud-infra"} <= visited
    assert result.handoff_path[0] == "router"
    assert result.status == "ok" and result.answer
    assert result.model_requests and all(r.input_tokens > 0 for r in result.model_requests)
    assert result.usage.requests == len(result.model_requests)
    AskResult.model_validate_json(result.model_dump_json())


async def test_offline_model_calls_tools_through_the_agent_loop(fake_toolbox: FakeToolbox) -> None:
    question = "Is 17*23 = 392? And what does this print?\n```python\nprint(sum(range(10)))\n```"
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        result = await crossroads.ask(question, agent="data-ai")
    names = [c.name for c in result.tool_calls]
    assert names == ["run_python", "check_math"]
    assert ("run_python", "print(sum(range(10)))\n") in fake_toolbox.calls
    assert ("check_math", "17*23 = 392") in fake_toolbox.calls
    math = result.tool_calls[1]
    assert math.agent == "data-ai" and math.result["verified"] is False and math.duration_ms >= 0
    assert "verified: false" in result.answer and "fake output" in result.answer
    assert len(result.model_requests) == 2  # tool-call turn, then the answer


async def test_sql_blocks_go_to_run_sql(fake_toolbox: FakeToolbox) -> None:
    question = "Why is this query slow?\n```sql\nSELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id;\n```"
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        result = await crossroads.ask(question, agent="core-dev")
    assert [c.name for c in result.tool_calls] == ["run_sql"]


async def test_multi_domain_question_runs_specialists_concurrently_then_synthesises(
    fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    running: list[str] = []
    peak = 0
    original = ModelFactory.specialist

    def slow(self: ModelFactory, name: str) -> FunctionModel:
        inner = original(self, name)

        async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            nonlocal peak
            running.append(name)
            peak = max(peak, len(running))
            await asyncio.sleep(0.05)
            running.remove(name)
            return inner.function(messages, info)  # type: ignore[misc]

        return FunctionModel(respond, model_name=f"offline:{name}")

    monkeypatch.setattr(ModelFactory, "specialist", slow)
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter("data-ai", "cloud-infra")) as crossroads:
        result = await crossroads.ask("Deploy a model and monitor it.")
    assert peak == 2
    assert [s.agent for s in result.specialists] == ["data-ai", "cloud-infra"]
    assert result.model_requests[-1].agent == "synthesizer"
    assert "Data & AI" in result.answer and "Cloud & Infrastructure" in result.answer


async def test_handoff_follows_graph_edges_and_records_the_path(
    fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ModelFactory, "specialist", scripted_handoffs({"data-ai": "cloud-infra"}))
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter("data-ai")) as crossroads:
        result = await crossroads.ask("anything")
    assert result.handoff_path == ["router", "data-ai", "cloud-infra"]
    assert [(h.source, h.target, h.hop, h.accepted) for h in result.handoffs] == [("data-ai", "cloud-infra", 1, True)]
    assert "cloud-infra answered" in result.answer


async def test_handoff_to_a_non_neighbour_is_refused(
    fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cloud-infra has no edge to language in the packaged graph.
    monkeypatch.setattr(ModelFactory, "specialist", scripted_handoffs({"cloud-infra": "language"}))
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter("cloud-infra")) as crossroads:
        result = await crossroads.ask("anything")
    assert result.handoff_path == ["router", "cloud-infra"]
    refused = result.handoffs[0]
    assert not refused.accepted and "not a neighbour" in refused.note


async def test_no_revisits_along_a_path(fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = {"data-ai": "cloud-infra", "cloud-infra": "data-ai"}
    monkeypatch.setattr(ModelFactory, "specialist", scripted_handoffs(chain))
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter("data-ai")) as crossroads:
        result = await crossroads.ask("anything")
    assert result.handoff_path == ["router", "data-ai", "cloud-infra"]
    assert [h.accepted for h in result.handoffs] == [True, False]
    assert "already visited" in result.handoffs[1].note


async def test_hop_limit_stops_the_run_with_partial_trace(
    fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = {"data-ai": "cloud-infra", "cloud-infra": "core-dev", "core-dev": "language"}
    monkeypatch.setattr(ModelFactory, "specialist", scripted_handoffs(chain))
    settings = load_settings(limits={"max_hops": 2})
    async with Orchestrator(settings, toolbox=fake_toolbox, router=FixedRouter("data-ai")) as crossroads:
        with pytest.raises(LimitExceeded) as info:
            await crossroads.ask("anything")
    assert info.value.limit == "max_hops" and "limit is 2" in str(info.value)
    partial = info.value.partial
    assert partial is not None
    assert partial.status == "error" and [h.target for h in partial.handoffs] == ["cloud-infra", "core-dev", "language"]


async def test_request_limit(fake_toolbox: FakeToolbox) -> None:
    settings = load_settings(limits={"max_requests": 1})
    async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
        with pytest.raises(LimitExceeded) as info:
            await crossroads.ask("Is 2+2 = 5?", agent="data-ai")
    assert info.value.limit == "max_requests"
    partial = info.value.partial
    assert partial is not None
    assert len(partial.tool_calls) == 1  # the tool ran before the second request was refused


async def test_out_of_scope_lists_the_specialists(fake_toolbox: FakeToolbox) -> None:
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter()) as crossroads:
        result = await crossroads.ask("What is a good recipe for banana bread?")
    assert result.status == "out_of_scope" and result.route.abstain
    assert all(f"`{name}`" in result.answer for name in crossroads.cards)
    assert result.model_requests == []


@pytest.mark.parametrize("question", ["", "   \n", "x" * 20_001])
async def test_bad_questions_are_input_errors(fake_toolbox: FakeToolbox, question: str) -> None:
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        with pytest.raises(InputError):
            await crossroads.ask(question)


async def test_unknown_agent_is_an_input_error(fake_toolbox: FakeToolbox) -> None:
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        with pytest.raises(InputError, match="unknown agent 'nope'"):
            await crossroads.ask("hello", agent="nope")
    assert fake_toolbox.closed


def test_ask_sync_reuses_one_loop(fake_toolbox: FakeToolbox) -> None:
    crossroads = Orchestrator(toolbox=fake_toolbox, router=FixedRouter("core-dev"))
    try:
        first = crossroads.ask_sync("How do I write a binary search?")
        second = crossroads.ask_sync("How do I write a binary search?")
    finally:
        crossroads.close()
    assert first.answer == second.answer and first.trace_id != second.trace_id


async def test_two_branches_do_not_bring_in_the_same_neighbour(
    fake_toolbox: FakeToolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = {"data-ai": "language", "core-dev": "language"}
    monkeypatch.setattr(ModelFactory, "specialist", scripted_handoffs(chain))
    async with Orchestrator(toolbox=fake_toolbox, router=FixedRouter("data-ai", "core-dev")) as crossroads:
        result = await crossroads.ask("anything")
    assert sorted(h.accepted for h in result.handoffs) == [False, True]
    refused = next(h for h in result.handoffs if not h.accepted)
    assert "in parallel" in refused.note
    assert result.handoff_path.count("language") == 1


class _SlowToolbox:
    """A toolbox whose snippets run until cancelled, so a test can drop an ask mid-tool."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def run_python(self, code: str, timeout: float | None = None) -> Any:
        self.started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def check_math(self, claim: str, timeout: float | None = None) -> Any:
        raise AssertionError("not used")

    async def run_sql(self, query: str, tables: Any = None, timeout: float | None = None) -> Any:
        raise AssertionError("not used")

    async def aclose(self) -> None:
        return None


CODE_QUESTION = "Why does this print nothing?\n```python\nprint(1)\n```"


async def test_a_dropped_stream_is_stored_as_cancelled_and_stops_its_tool(tmp_path: Any) -> None:
    from crossroads.store import TraceStore

    store = TraceStore(tmp_path / "traces.sqlite3")
    box = _SlowToolbox()
    try:
        async with Orchestrator(load_settings(trace_db="off"), toolbox=box, trace_store=store) as crossroads:
            events = crossroads.stream(CODE_QUESTION, agent="language")
            trace_id = ""
            async for event in events:
                trace_id = event.trace_id
                if event.type == "tool_called":
                    break
            await events.aclose()  # the client went away
        store.flush()
        stored = store.get(trace_id)
        assert stored is not None and stored.status == "cancelled"
        assert stored.route.agents == ["language"] and box.cancelled
    finally:
        store.close()


async def test_a_cancelled_ask_is_stored_as_cancelled(tmp_path: Any) -> None:
    from crossroads.store import TraceStore

    store = TraceStore(tmp_path / "traces.sqlite3")
    box = _SlowToolbox()
    try:
        async with Orchestrator(load_settings(trace_db="off"), toolbox=box, trace_store=store) as crossroads:
            task = asyncio.create_task(crossroads.ask(CODE_QUESTION, agent="language"))
            await asyncio.wait_for(box.started.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        store.flush()
        [summary] = store.recent()
        assert summary.status == "cancelled" and box.cancelled
    finally:
        store.close()
