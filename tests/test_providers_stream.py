"""`Orchestrator.stream()` events, and the LLM router on the offline model (`router.mode = "llm"`)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from crossroads.config import load_settings
from crossroads.errors import InputError
from crossroads.events import Done, ErrorEvent, StreamEventAdapter, TextDelta
from crossroads.orchestrator import Orchestrator
from crossroads.providers import ModelFactory
from crossroads.streaming import text_deltas
from tests.test_providers_limits import always_checking

pytestmark = pytest.mark.anyio
QUESTION = "Is 17*23 = 391? And which metrics should I monitor for drift of a deployed model?"


async def collect(crossroads: Orchestrator, question: str, **kwargs: Any) -> list[Any]:
    with anyio.fail_after(20):
        return [event async for event in crossroads.stream(question, **kwargs)]


async def test_stream_yields_progress_then_deltas_then_done(fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        events = await collect(crossroads, QUESTION, agent="data-ai")
    types = [e.type for e in events]
    assert types[0] == "route" and types[1] == "specialist_started" and types[-1] == "done"
    assert types.index("tool_called") < types.index("tool_returned") < types.index("specialist_finished")
    assert "model_request" in types
    done = events[-1]
    assert isinstance(done, Done) and done.result.status == "ok"
    deltas = [e.delta for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3 and "".join(deltas) == done.result.answer
    # the specialist's text streams while it runs: after its tool call returned, before it finished
    assert types.index("tool_returned") < types.index("text_delta") < types.index("specialist_finished")
    assert {e.trace_id for e in events} == {done.result.trace_id}
    for event in events:  # every event survives the JSON round trip the server will make
        assert StreamEventAdapter.validate_json(event.model_dump_json()) == event


async def test_stream_reports_a_limit_as_an_error_event_with_the_partial_trace(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    monkeypatch.setattr(ModelFactory, "specialist", always_checking())
    settings = load_settings(trace_db="off", limits={"max_requests": 2})
    async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
        events = await collect(crossroads, "Check my sums.", agent="core-dev")
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.kind == "LimitExceeded" and error.limit == "max_requests"
    assert error.partial is not None and len(error.partial.model_requests) == 2
    assert not any(e.type in ("done", "text_delta") for e in events)


async def test_stream_rejects_bad_input_and_stops_when_the_consumer_leaves(fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        with pytest.raises(InputError):
            await collect(crossroads, "   ")
        with pytest.raises(InputError, match="unknown agent"):
            await collect(crossroads, "hello", agent="nobody")
        with anyio.fail_after(10):
            async for event in crossroads.stream(QUESTION):
                assert event.type == "route"
                break  # leaving early cancels the ask; nothing hangs


def test_text_deltas_join_back_exactly() -> None:
    for text in ["", "one", "  leading and trailing  ", "a\n\n```\ncode  block\n```\n" * 5]:
        assert "".join(text_deltas(text, size=8)) == text


async def test_llm_router_mode_works_on_the_offline_model(fake_toolbox: Any) -> None:
    settings = load_settings(trace_db="off", router={"mode": "llm"})
    async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
        decision = await crossroads.route("How do I set up a Kubernetes HorizontalPodAutoscaler for my pods?")
        off_topic = await crossroads.route("What is a good recipe for banana bread?")
        result = await crossroads.ask("How do I set up a Kubernetes HorizontalPodAutoscaler for my pods?")
    assert decision.stage == "llm" and decision.primary == "cloud-infra"
    assert 0 < decision.targets[0].confidence <= 1
    assert off_topic.abstain and off_topic.stage == "llm"
    assert result.status == "ok" and result.route.stage == "llm"


def test_offline_cascade_does_not_escalate_to_the_offline_router() -> None:
    settings = load_settings(trace_db="off")
    from crossroads.cards import load_cards
    from crossroads.graph import HandoffGraph

    cards = load_cards(settings.cards)
    factory = ModelFactory(settings, cards, HandoffGraph.build(cards, settings.graph))
    assert factory.router() is None  # cascade + offline: the local stage decides
    llm = ModelFactory(
        settings.model_copy(update={"router": settings.router.model_copy(update={"mode": "llm"})}),
        cards,
        HandoffGraph.build(cards, settings.graph),
    )
    assert llm.router() is not None
