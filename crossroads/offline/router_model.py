"""The offline model behind the LLM router: a deterministic `FunctionModel` answering with structured output.

It lets `router.mode = "llm"` run (and be tested) through the real structured-output agent loop with no
provider configured. It reads the question against every card with BM25, as the offline specialists do,
and answers through the output tool exactly as a provider would: targets with confidences and
sub-questions, or `abstain` when nothing matches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.cards import AgentCard
from crossroads.offline.card_index import CardIndex
from crossroads.offline.messages import response, user_prompt
from crossroads.text import clauses

MIN_SCORE = 0.3
"""Below this card match (BM25 squashed to [0, 1) by `CardIndex`) nothing matches: out of scope."""
KEEP_RATIO = 0.8
"""A further specialist is chosen when it scores at least this share of the best one."""


class OfflineRouterModel:
    """Scores a question against every card and answers the router agent's output tool."""

    def __init__(self, cards: Mapping[str, AgentCard], max_targets: int = 3) -> None:
        self.index = CardIndex(cards)
        self.max_targets = max_targets

    def model(self) -> FunctionModel:
        return FunctionModel(self.respond, model_name="offline:router")

    def route(self, question: str) -> dict[str, object]:
        scores = self.index(question)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < MIN_SCORE:
            return {"abstain": True, "targets": [], "reason": "no specialist's card matches the question"}
        best = ranked[0][1]
        chosen = [(n, s) for n, s in ranked if s >= KEEP_RATIO * best][: self.max_targets]
        total = sum(s for _, s in chosen)
        parts = self._parts(question, [n for n, _ in chosen])
        targets = [
            {"agent": n, "confidence": round(min(1.0, s / total), 4), "sub_question": parts.get(n, question)}
            for n, s in chosen
        ]
        return {
            "abstain": False,
            "targets": targets,
            "reason": "card match: " + ", ".join(f"{n} {s:.1f}" for n, s in chosen),
        }

    def _parts(self, question: str, names: list[str]) -> dict[str, str]:
        """Each clause of the question goes to the chosen specialist it matches best."""
        if len(names) < 2:
            return {}
        parts: dict[str, list[str]] = {}
        for clause in clauses(question):
            scores = self.index(clause)
            parts.setdefault(max(names, key=lambda n: scores.get(n, 0.0)), []).append(clause)
        return {n: " ".join(texts) for n, texts in parts.items() if len(parts) == len(names)}

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        question = user_prompt(messages)
        out = json.dumps(self.route(question))
        if not info.output_tools:  # a text-output agent: answer in JSON text
            return response([TextPart(out)], question, out, model_name="offline:router")
        return response([ToolCallPart(info.output_tools[0].name, out)], question, out, model_name="offline:router")
