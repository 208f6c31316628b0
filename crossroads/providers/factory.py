"""Which pydantic-ai model each role runs on: the router, each specialist and the synthesiser.

A model spec is `offline` (the embedded deterministic model) or `<provider>:<model>`. Specs resolve per
role: a card's `model:` frontmatter, then `settings.models[role]`, then `settings.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_ai.models import Model

from crossroads.agents.cards import AgentCard
from crossroads.agents.offline import CardIndex, OfflineSpecialist, offline_synthesizer
from crossroads.config import Settings
from crossroads.errors import ConfigError
from crossroads.graph import HandoffGraph

OFFLINE = "offline"


class ModelFactory:
    """Builds (and caches) the model of every role from settings."""

    def __init__(self, settings: Settings, cards: Mapping[str, AgentCard], graph: HandoffGraph) -> None:
        self.settings = settings
        self.cards = cards
        self.graph = graph
        self._index: CardIndex | None = None
        self._cache: dict[str, Model] = {}

    def spec_for(self, role: str) -> str:
        card = self.cards.get(role)
        if card is not None and card.model not in ("", "inherit"):
            return card.model
        return self.settings.models.get(role) or self.settings.model

    def specialist(self, name: str) -> Model:
        spec = self.spec_for(name)
        if spec == OFFLINE:
            if self._index is None:
                self._index = CardIndex(self.cards)
            return OfflineSpecialist(self.cards[name], self._index, self.graph.neighbours(name)).model()
        return self._remote(spec)

    def synthesizer(self) -> Model:
        spec = self.spec_for("synthesizer")
        return offline_synthesizer() if spec == OFFLINE else self._remote(spec)

    def router(self) -> Model | None:
        """The LLM router's model, or None when only the offline model is configured."""
        spec = self.spec_for("router")
        return None if spec == OFFLINE else self._remote(spec)

    def _remote(self, spec: str) -> Model:
        if spec not in self._cache:
            self._cache[spec] = self._build_remote(spec)
        return self._cache[spec]

    def _build_remote(self, spec: str) -> Model:
        provider, _, name = spec.partition(":")
        if not name:
            raise ConfigError(f"model '{spec}': expected 'offline' or '<provider>:<model>'")
        raise ConfigError(f"model '{spec}': provider '{provider}' is not supported in this build")

    async def aclose(self) -> None:
        self._cache.clear()

    def describe(self) -> dict[str, Any]:
        roles = ["router", "synthesizer", *sorted(self.cards)]
        return {role: self.spec_for(role) for role in roles}
