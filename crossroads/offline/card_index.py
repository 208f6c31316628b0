"""BM25 over every card, squashed to [0, 1): which specialist a piece of text is about, with no classifier.

The offline specialists use it to judge handoffs when no router classifier is at hand, and the offline
LLM-router model reads questions with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from crossroads.cards import AgentCard
from crossroads.text import BM25


class CardIndex:
    """BM25 over every card's text, squashed to [0, 1): the lean scorer when no classifier is at hand."""

    HALF = 2.5
    """The BM25 score that maps to 0.5."""

    def __init__(self, cards: Mapping[str, AgentCard]) -> None:
        self.names = sorted(cards)
        self.cards = cards

    @cached_property
    def bm25(self) -> BM25:
        """Built on first use, so constructing an orchestrator stays cheap."""
        docs = []
        for name in self.names:
            card = self.cards[name]
            profile = " ".join([card.description, *card.capabilities] * 3)
            headings = " ".join(s.heading for s in card.sections)
            docs.append(f"{profile} {headings} {card.body}")
        return BM25(docs)

    def __call__(self, text: str) -> dict[str, float]:
        return {n: s / (s + self.HALF) for n, s in zip(self.names, self.bm25.scores(text), strict=True)}
