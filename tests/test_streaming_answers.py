"""Real token streaming: the final answer's deltas come from the model as it writes them.

The single specialist's run (or the synthesiser's, for several specialists) is a streamed pydantic-ai
run: its text arrives as `text_delta` events before the run finishes, on the offline model and on each
provider's SSE wire format. Joined, the deltas equal `done.result.answer`, which equals what `ask()`
answers. Retries happen before the first token; a failure after it ends the stream with an error event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.config import load_settings
from crossroads.events import Done, ErrorEvent, StreamEvent, TextDelta
from crossroads.offline.messages import word_deltas
from crossroads.orchestrator import Orchestrator
from crossroads.providers import ModelFactory
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from tests.provider_wire import SECRET, WIRES, Wire, body_of
from tests.test_providers_faults import NO_ROUTER, Waits

pytestmark = pytest.mark.anyio

QUESTIONS = {
    "fixed-with-tool": ("Is 17*23 = 391? And which metrics should I monitor for drift of a deployed model?", "data-ai"),
    "routed-single": ("How do I set up a Kubernetes HorizontalPodAutoscaler for my pods?", None),
    "multi-domain": (
        "How should I deploy a fine-tuned LLM behind an autoscaled API on Kubernetes, and which metrics do I"
        " monitor for drift?",
        None,
    ),
    "out-of-scope": ("What is a good recipe for banana bread?", None),
}


async def collect(orchestrator: Orchestrator, question: str, **kwargs: Any) -> list[StreamEvent]:
    with anyio.fail_after(30):
        return [event async for event in orchestrator.stream(question, **kwargs)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("case", list(QUESTIONS))
async def test_streamed_answer_equals_the_plain_answer_and_arrives_in_order(case: str, fake_toolbox: Any) -> None:
    question, agent = QUESTIONS[case]
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        plain = await crossroads.ask(question, agent=agent)
        events = await collect(crossroads, question, agent=agent)
    types = [e.type for e in events]
    done = events[-1]
    assert isinstance(done, Done) and types.count("done") == 1 and "error" not in types
    assert text_of(events) == done.result.answer == plain.answer
    assert done.result.route.agents == plain.route.agents
    first, last = types.index("text_delta"), len(types) - 1 - types[::-1].index("text_delta")
    assert types[first : last + 1].count("text_delta") > 3 or case == "out-of-scope"
    if case == "multi-domain":  # the specialists' own texts are not the answer: only the synthesis streams
        assert len(plain.route.agents) > 1
        assert types.index("synthesis_started") < first
        assert types.count("specialist_finished") == len(plain.route.agents)
        assert all(t != "specialist_finished" for t in types[first:])
    elif case != "out-of-scope":  # the one specialist streams while it runs, after its tool calls
        assert types.index("specialist_started") < first < types.index("specialist_finished")
        assert "synthesis_started" not in types
        if case == "fixed-with-tool":
            assert types.index("tool_returned") < first
    # the streamed requests are in the trace with their tokens and durations
    if case != "out-of-scope":
        final = done.result.model_requests[-1]
        assert final.output_tokens > 0 and final.duration_ms > 0 and final.error is None
        assert types[last + 1 :].count("model_request") >= 1  # its record lands when the stream ends


def gated(name: str, gate: asyncio.Event, pieces: list[str]) -> FunctionModel:
    """A model that writes its first piece, then waits for the consumer to have received it."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("".join(pieces))])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        yield pieces[0]
        await gate.wait()  # never set unless the first piece reached the client before the run finished
        for piece in pieces[1:]:
            yield piece

    return FunctionModel(respond, stream_function=stream, model_name=f"gated:{name}")


@pytest.mark.parametrize("role", ["specialist", "synthesizer"])
async def test_first_token_reaches_the_client_before_the_model_has_finished(
    role: str, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    gate = asyncio.Event()
    pieces = ["The ", "answer ", "is ", "42."]
    if role == "specialist":
        monkeypatch.setattr(ModelFactory, "specialist", lambda self, name: gated(name, gate, pieces))
        question, agent = "How do I autoscale pods?", "cloud-infra"
    else:
        monkeypatch.setattr(ModelFactory, "synthesizer", lambda self: gated("synthesizer", gate, pieces))
        question, agent = QUESTIONS["multi-domain"][0], None
    seen: list[str] = []
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        with anyio.fail_after(20):
            async for event in crossroads.stream(question, agent=agent):
                if isinstance(event, TextDelta):
                    seen.append(event.delta)
                    gate.set()
                elif isinstance(event, Done):
                    assert event.result.answer == "".join(pieces)
    assert seen == pieces


def test_offline_word_deltas_join_back() -> None:
    for text in ["", "  ", "one", " lead and trail \n", "a\n\n```\ncode  block\n```\n"]:
        assert "".join(word_deltas(text)) == text


# -- on the providers' wire formats (respx, SSE bodies) ---------------------------------------------------

PIECES = ["Use ", "a ", "Horizontal", "Pod", "Autoscaler ", "on ", "GPU ", "load."]


async def stream_on(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, responses: list[Any], fake_toolbox: Any, waits: Waits
) -> tuple[list[StreamEvent], respx.Route]:
    monkeypatch.setenv(wire.key_env or "OPENAI_COMPATIBLE_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(wire.url).mock(side_effect=responses)
    settings = load_settings(model=wire.spec, base_url=wire.base_url, trace_db="off")
    async with Orchestrator(
        settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router), retry_sleep=waits, router=NO_ROUTER
    ) as crossroads:
        return await collect(crossroads, "How do I autoscale inference pods?", agent="cloud-infra"), route


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_provider_tokens_stream_one_by_one(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    stream = wire.text_stream(PIECES, input_tokens=1200, output_tokens=40)
    events, route = await stream_on(wire, monkeypatch, [stream], fake_toolbox, Waits())
    done = events[-1]
    assert isinstance(done, Done), events[-1]
    assert [e.delta for e in events if isinstance(e, TextDelta)] == PIECES  # the provider's chunks, unmerged
    assert done.result.answer == "".join(PIECES)
    assert body_of(route.calls[0].request)["stream"] is True
    [record] = done.result.model_requests
    assert (record.input_tokens, record.output_tokens) == (1200, 40) and record.duration_ms > 0


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_a_failed_attempt_is_retried_before_the_first_token(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    waits = Waits()
    events, route = await stream_on(wire, monkeypatch, [wire.error(503), wire.text_stream(PIECES)], fake_toolbox, waits)
    done = events[-1]
    assert isinstance(done, Done)
    assert text_of(events) == "".join(PIECES) == done.result.answer  # sent once, not once per attempt
    assert route.call_count == 2 and len(waits.waits) == 1
    [record] = done.result.model_requests
    assert [a.status for a in record.attempts] == [503]


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_a_failure_after_the_first_token_ends_the_stream_with_an_error(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    broken = wire.text_stream(PIECES, broken_after=3)
    events, route = await stream_on(wire, monkeypatch, [broken, wire.text_stream(PIECES)], fake_toolbox, Waits())
    error = events[-1]
    assert isinstance(error, ErrorEvent), error
    assert "done" not in [e.type for e in events]
    assert text_of(events) == "".join(PIECES[:3])  # what was sent stays sent; no second copy follows
    assert route.call_count == 1  # never retried once tokens were out
    assert error.partial is not None and error.partial.answer == "".join(PIECES[:3])
    assert error.partial.status == "error"


async def test_plain_ask_still_sends_plain_requests(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    wire = WIRES[-1]
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(wire.url).mock(return_value=httpx.Response(200, json=wire.text("".join(PIECES))))
    settings = load_settings(model=wire.spec, base_url=wire.base_url, trace_db="off")
    async with Orchestrator(
        settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router), router=NO_ROUTER
    ) as crossroads:
        result = await crossroads.ask("How do I autoscale inference pods?", agent="cloud-infra")
    assert result.answer == "".join(PIECES)
    assert body_of(route.calls[0].request).get("stream") in (None, False)
