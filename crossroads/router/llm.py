"""The LLM router: a pydantic-ai agent with structured output, for the questions the local stage is unsure of.

Imported only when a model is configured for routing, so `crossroads route` never loads pydantic-ai.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.models import Model

from crossroads.cards import AgentCard
from crossroads.config import RouterSettings
from crossroads.errors import ProviderError
from crossroads.redact import redact
from crossroads.result import RouteDecision, RouteTarget


class LLMTarget(BaseModel):  # noqa: D101 - a docstring would change the schema models are sent
    agent: str = Field(description="Name of one specialist from the list.")
    confidence: float = Field(ge=0, le=1, description="How sure you are that this specialist is needed.")
    sub_question: str = Field(description="The part of the question this specialist should answer.")


class LLMRoute(BaseModel):
    """The router's structured answer."""

    abstain: bool = Field(False, description="True when no specialist fits: the question is out of scope.")
    targets: list[LLMTarget] = Field(default_factory=list, description="Specialists needed, most relevant first.")
    reason: str = Field("", description="One short sentence saying why.")


def instructions(cards: Mapping[str, AgentCard], max_targets: int) -> str:
    lines = [
        "You route a developer's question to the specialists that should answer it.",
        f"Choose 1 to {max_targets} specialists, most relevant first. Choose several only when the question",
        "really has parts in several domains, and then give each one the part it should answer as its",
        "sub_question (the whole question when it has a single part). If the question is not a technical",
        "question any specialist covers, set abstain to true and give no targets.",
        "",
        "Specialists:",
    ]
    for name, card in sorted(cards.items()):
        caps = "; ".join(card.capabilities)
        lines.append(f"- {name}: {card.description}" + (f" Capabilities: {caps}." if caps else ""))
    return "\n".join(lines)


class LLMRouter:
    """Routes by asking a model; the output validator sends unknown specialist names back for a retry."""

    def __init__(
        self,
        cards: Mapping[str, AgentCard],
        settings: RouterSettings,
        model: Model,
        *,
        capabilities: Sequence[AbstractCapability[Any]] = (),
    ) -> None:
        """`capabilities`: e.g. the provider layer's per-request retries and fallback."""
        self.settings = settings
        self.names = frozenset(cards)
        self.agent: Agent[None, LLMRoute] = Agent(
            model,
            output_type=LLMRoute,
            instructions=instructions(cards, settings.max_targets),
            name="router",
            retries=2,
            capabilities=list(capabilities),
        )
        names = self.names

        @self.agent.output_validator
        def _known_agents(output: LLMRoute) -> LLMRoute:
            unknown = sorted({t.agent for t in output.targets} - names)
            if unknown:
                raise ModelRetry(f"unknown specialist(s) {unknown}; choose from {sorted(names)}")
            if not output.abstain and not output.targets:
                raise ModelRetry("give at least one target, or set abstain to true")
            return output

    async def route(self, question: str) -> RouteDecision:
        t0 = time.perf_counter()
        try:
            result = await self.agent.run(question)
        except Exception as exc:  # provider errors of every kind: the cascade decides what to do
            raise ProviderError(redact(f"LLM router failed: {type(exc).__name__}: {exc}")) from exc
        out = result.output
        ranked: dict[str, LLMTarget] = {}
        for target in sorted(out.targets, key=lambda t: -t.confidence):
            ranked.setdefault(target.agent, target)
        targets = (
            []
            if out.abstain
            else [
                RouteTarget(
                    agent=t.agent, confidence=round(t.confidence, 4), sub_question=t.sub_question.strip() or question
                )
                for t in list(ranked.values())[: self.settings.max_targets]
            ]
        )
        return RouteDecision(
            targets=targets,
            abstain=not targets,
            stage="llm",
            reason=f"LLM router: {out.reason}" if out.reason else "LLM router",
            scores={t.agent: round(t.confidence, 4) for t in ranked.values()},
            duration_ms=(time.perf_counter() - t0) * 1000,
        )
