"""The cascade's stages and the LLM router's structured output, with scripted models (no network)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.cards import load_cards
from crossroads.config import RouterSettings
from crossroads.errors import ProviderError
from crossroads.result import RouteDecision, RouteTarget
from crossroads.router.cascade import CascadeRouter
from crossroads.router.llm import LLMRouter
from crossroads.router.local import LocalRouter


class StubLocal:
    """A local stage with fixed scores, so the escalation rule is tested on its own."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls = 0

    def decide(self, question: str) -> RouteDecision:
        self.calls += 1
        best = max(self.scores, key=self.scores.__getitem__)
        return RouteDecision(
            targets=[RouteTarget(agent=best, confidence=self.scores[best], sub_question=question)],
            stage="local",
            reason="stub",
            scores=self.scores,
        )


def scripted(outputs: list[dict[str, Any]]) -> tuple[FunctionModel, list[int]]:
    """A model that answers each request with the next structured output, through the output tool."""
    calls = [0]

    def fn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        out = outputs[min(calls[0], len(outputs) - 1)]
        calls[0] += 1
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, json.dumps(out))])

    return FunctionModel(fn), calls


TWO = {
    "targets": [
        {"agent": "data-ai", "confidence": 0.9, "sub_question": "the model part"},
        {"agent": "cloud-infra", "confidence": 0.6, "sub_question": "the cluster part"},
    ],
    "abstain": False,
    "reason": "two domains",
}


@pytest.mark.anyio
async def test_llm_router_returns_structured_targets() -> None:
    model, _ = scripted([TWO])
    decision = await LLMRouter(load_cards(), RouterSettings(), model).route("question")
    assert decision.stage == "llm"
    assert [(t.agent, t.sub_question) for t in decision.targets] == [
        ("data-ai", "the model part"),
        ("cloud-infra", "the cluster part"),
    ]
    assert decision.reason == "LLM router: two domains"


@pytest.mark.anyio
async def test_llm_router_retries_unknown_agents_and_abstains() -> None:
    bad = {"targets": [{"agent": "astrology", "confidence": 0.9, "sub_question": "x"}], "abstain": False}
    model, calls = scripted([bad, {"targets": [], "abstain": True, "reason": "off-topic"}])
    decision = await LLMRouter(load_cards(), RouterSettings(), model).route("my horoscope?")
    assert calls[0] == 2 and decision.abstain and decision.targets == []


def cascade(
    scores: dict[str, float], mode: str = "cascade", outputs: list[dict[str, Any]] | None = None
) -> tuple[CascadeRouter, StubLocal, list[int]]:
    settings = RouterSettings(mode=mode, cascade_confidence=0.55, cascade_margin=0.08)  # type: ignore[arg-type]
    model, calls = scripted(outputs or [TWO])
    local = StubLocal(scores)
    return CascadeRouter(local, LLMRouter(load_cards(), settings, model), settings), local, calls  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_cascade_stays_local_when_confident() -> None:
    router, _, calls = cascade({"data-ai": 0.9, "cloud-infra": 0.2})
    decision = await router.route("q")
    assert decision.stage == "local" and calls[0] == 0
    assert decision.reason.startswith("confident locally")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scores", "why"),
    [
        ({"data-ai": 0.4, "cloud-infra": 0.1}, "best local confidence"),
        ({"data-ai": 0.8, "cloud-infra": 0.75}, "top-two margin"),
    ],
)
async def test_cascade_escalates_when_unsure(scores: dict[str, float], why: str) -> None:
    router, _, calls = cascade(scores)
    decision = await router.route("q")
    assert decision.stage == "llm" and calls[0] == 1
    assert decision.reason.startswith(f"escalated ({why}")


@pytest.mark.anyio
async def test_modes_local_and_llm() -> None:
    router, local, calls = cascade({"data-ai": 0.3}, mode="local")
    assert (await router.route("q")).stage == "local" and calls[0] == 0
    router, local, calls = cascade({"data-ai": 0.99}, mode="llm")
    assert (await router.route("q")).stage == "llm" and local.calls == 0


@pytest.mark.anyio
async def test_cascade_keeps_the_local_decision_when_the_llm_fails() -> None:
    def boom(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise RuntimeError("provider down")

    settings = RouterSettings()
    router = CascadeRouter(
        cast(LocalRouter, StubLocal({"core-dev": 0.4})),
        LLMRouter(load_cards(), settings, FunctionModel(boom)),
        settings,
    )
    decision = await router.route("q")
    assert decision.stage == "local" and decision.primary == "core-dev"
    assert "LLM router failed" in decision.reason
    llm_only = CascadeRouter(
        cast(LocalRouter, StubLocal({"core-dev": 0.4})),
        LLMRouter(load_cards(), settings, FunctionModel(boom)),
        RouterSettings(mode="llm"),
    )
    with pytest.raises(ProviderError):
        await llm_only.route("q")


@pytest.mark.anyio
async def test_lazy_llm_factory_is_built_only_on_escalation() -> None:
    built: list[int] = []

    def factory() -> LLMRouter:
        built.append(1)
        return LLMRouter(load_cards(), RouterSettings(), scripted([TWO])[0])

    router = CascadeRouter(StubLocal({"data-ai": 0.95}), None, RouterSettings(), llm_factory=factory)  # type: ignore[arg-type]
    assert (await router.route("q")).stage == "local" and built == []
    router.local = StubLocal({"data-ai": 0.2})  # type: ignore[assignment]
    assert (await router.route("q")).stage == "llm" and built == [1]
