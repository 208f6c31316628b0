"""Per-ask limits: each one stops the run with `LimitExceeded` naming the limit, and keeps the partial trace."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from crossroads.config import load_settings
from crossroads.errors import LimitExceeded
from crossroads.offline.messages import streamed
from crossroads.orchestrator import Orchestrator
from crossroads.providers import ModelFactory

pytestmark = pytest.mark.anyio


class NoRouter:
    async def route(self, question: str) -> Any:
        raise AssertionError("these tests name the specialist")


def always_checking(tokens: int = 50) -> Any:
    """Every turn calls check_math again: a model that never stops on its own."""

    def model_for(self: ModelFactory, name: str) -> FunctionModel:
        def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            n = len(messages)
            return ModelResponse(
                parts=[ToolCallPart("check_math", {"claim": f"{n}+1 = {n + 1}"})],
                usage=RequestUsage(input_tokens=tokens, output_tokens=10),
            )

        return FunctionModel(respond, stream_function=streamed(respond), model_name=f"looping:{name}")

    return model_for


def slow(self: ModelFactory, name: str) -> FunctionModel:
    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(30)
        return ModelResponse(parts=[TextPart("too late")])

    return FunctionModel(respond, model_name="slow")


def handing_off(self: ModelFactory, name: str) -> FunctionModel:
    """Every specialist hands off to a neighbour it has not visited: a chain only the hop limit stops."""
    graph = self.graph

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1:
            return ModelResponse(parts=[TextPart(f"{name} done")])
        target = sorted(graph.neighbours(name))[0]
        return ModelResponse(parts=[ToolCallPart("handoff", {"to": target, "question": "next part"})])

    return FunctionModel(respond, model_name=f"handoff:{name}")


async def run(monkeypatch: pytest.MonkeyPatch, model: Any, fake_toolbox: Any, **settings: Any) -> LimitExceeded:
    monkeypatch.setattr(ModelFactory, "specialist", model)
    config = load_settings(trace_db="off", **settings)
    with anyio.fail_after(10), pytest.raises(LimitExceeded) as info:
        async with Orchestrator(config, toolbox=fake_toolbox, router=NoRouter()) as crossroads:
            await crossroads.ask("Check my sums.", agent="data-ai")
    return info.value


async def test_max_requests(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    exc = await run(monkeypatch, always_checking(), fake_toolbox, limits={"max_requests": 3})
    assert exc.limit == "max_requests" and "3" in str(exc)
    assert exc.partial is not None
    assert exc.partial.status == "error" and len(exc.partial.model_requests) == 3
    assert [c.name for c in exc.partial.tool_calls] == ["check_math"] * 3
    assert exc.partial.usage.requests == 3


async def test_max_tokens(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    exc = await run(monkeypatch, always_checking(tokens=600), fake_toolbox, limits={"max_tokens": 1000})
    assert exc.limit == "max_tokens" and "1000" in str(exc)
    assert exc.partial is not None
    assert exc.partial.usage.input_tokens >= 1000 and exc.partial.model_requests


async def test_wall_time(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    exc = await run(monkeypatch, slow, fake_toolbox, timeout=0.2)
    assert exc.limit == "timeout" and "0.2 s" in str(exc)
    assert exc.partial is not None and exc.partial.route.agents == ["data-ai"]
    assert exc.partial.duration_ms < 5000


async def test_max_hops(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    exc = await run(monkeypatch, handing_off, fake_toolbox, limits={"max_hops": 1})
    assert exc.limit == "max_hops"
    partial = exc.partial
    assert partial is not None
    assert [h.accepted for h in partial.handoffs] == [True, False] and partial.handoffs[-1].note == "hop limit"


async def test_defaults_are_out_of_reach_of_an_ordinary_question(fake_toolbox: Any) -> None:
    settings = load_settings(trace_db="off")
    assert settings.limits.max_requests >= 30 and settings.limits.max_tokens >= 200_000
    assert settings.timeout >= 60 and settings.limits.max_hops >= 2
    async with Orchestrator(settings, toolbox=fake_toolbox, router=NoRouter()) as crossroads:
        result = await crossroads.ask("Is 17*23 = 391? And how do I monitor drift?", agent="data-ai")
    assert result.status == "ok"
