"""The simplest honest router: keyword overlap between the question and each card's capabilities."""

from __future__ import annotations

import time
from collections.abc import Mapping

from crossroads.cards import AgentCard
from crossroads.config import RouterSettings
from crossroads.result import RouteDecision, RouteTarget
from crossroads.text import tokens


class KeywordRouter:
    """Scores each specialist by the share of its capability vocabulary the question mentions."""

    def __init__(self, cards: Mapping[str, AgentCard], settings: RouterSettings) -> None:
        self.settings = settings
        self.vocab = {name: set(tokens(" ".join([c.description, *c.capabilities]))) for name, c in cards.items()}

    def decide(self, question: str) -> RouteDecision:
        t0 = time.perf_counter()
        q = set(tokens(question))
        raw = {name: len(q & vocab) for name, vocab in self.vocab.items()}
        top = max(raw.values(), default=0)
        scores = {n: (v / top if top else 0.0) * min(1.0, top / 3) for n, v in raw.items()}
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best = ranked[0][1] if ranked else 0.0
        threshold, margin = self.settings.threshold, self.settings.margin
        chosen = [(n, s) for n, s in ranked if s >= threshold and best - s <= margin]
        chosen = chosen[: self.settings.max_targets]
        return RouteDecision(
            targets=[RouteTarget(agent=n, confidence=round(s, 4), sub_question=question) for n, s in chosen],
            abstain=not chosen,
            stage="keyword",
            reason="keyword overlap with card capabilities",
            scores={n: round(s, 4) for n, s in ranked},
            duration_ms=(time.perf_counter() - t0) * 1000,
        )

    async def route(self, question: str) -> RouteDecision:
        return self.decide(question)
