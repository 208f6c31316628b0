"""Which pydantic-ai model each role runs on: the router, each specialist and the synthesiser.

A model spec is `offline` (the embedded deterministic model) or `<provider>:<model>` (see `specs`). Specs
resolve per role: a card's `model:` frontmatter, then `settings.models[role]`, then `settings.model`.
Models are built when the orchestrator is built, so a missing API key is a `ConfigError` at start-up that
names the variable. All remote models of one factory share one HTTP client (`http.shared_client`) and have
the SDKs' retries off: `ResilientRequests` (one per agent, from `capabilities(role)`) owns retrying.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx2
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.models import Model

from crossroads.cards import AgentCard
from crossroads.config import Settings
from crossroads.errors import ConfigError
from crossroads.graph import HandoffGraph
from crossroads.offline.card_index import CardIndex
from crossroads.offline.specialist import OfflineSpecialist, Scorer
from crossroads.offline.synthesizer import offline_synthesizer
from crossroads.providers.http import shared_client
from crossroads.providers.resilience import ResilientRequests, RetryPolicy, Sleep
from crossroads.providers.specs import OFFLINE, ModelSpec, api_key, parse_spec, role_spec, wants_router_model

ANTHROPIC_MAX_TOKENS = 4096
"""Anthropic needs `max_tokens`; without it pydantic-ai asks for the model maximum, which the SDK only
allows as a streamed request."""


class ModelFactory:
    """Builds (and caches) the model of every role from settings."""

    def __init__(
        self,
        settings: Settings,
        cards: Mapping[str, AgentCard],
        graph: HandoffGraph,
        *,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        model_wrapper: Callable[[Model, str], Model] | None = None,
        extra_capabilities: Callable[[], list[AbstractCapability[Any]]] | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        """Remember how to build models; nothing is built yet.

        `http_transport` replaces the network for every provider (tests, recording); `sleep` replaces
        the wait between retries (tests pass one that returns at once); `model_wrapper(model, role)` wraps
        every model handed out (scenario record/replay); `extra_capabilities()` adds fresh capabilities to
        every agent (OpenTelemetry instrumentation); `scorer` is how the offline specialists judge which
        neighbour a clause belongs to (the router's classifier; BM25 over the cards when None).
        """
        self.settings = settings
        self.cards = cards
        self.graph = graph
        self.http_transport = http_transport
        self.model_wrapper = model_wrapper
        self.extra_capabilities = extra_capabilities
        self.policy = (
            RetryPolicy(retries=settings.retries)
            if sleep is None
            else RetryPolicy(retries=settings.retries, sleep=sleep)
        )
        self.scorer = scorer
        self._cache: dict[str, Model] = {}
        self._client: httpx2.AsyncClient | None = None

    def spec_for(self, role: str) -> str:
        return role_spec(self.settings, self.cards, role)

    # -- models per role ----------------------------------------------------------------------------

    def specialist(self, name: str) -> Model:
        return self._model(self.spec_for(name), name)

    def synthesizer(self) -> Model:
        return self._model(self.spec_for("synthesizer"), "synthesizer")

    def router(self) -> Model | None:
        """The LLM router's model, or None when it gets none (`specs.wants_router_model`)."""
        if not wants_router_model(self.settings, self.cards):
            return None
        return self._model(self.spec_for("router"), "router")

    def for_role(self, role: str) -> Model:
        """The model of any other role (e.g. the scenario judge), by `settings.models[role]` or the default."""
        return self._model(self.spec_for(role), role)

    def fallbacks(self, role: str) -> list[Model]:
        """The fallback chain of a role: `settings.fallback`, minus the role's own model."""
        own = str(parse_spec(self.spec_for(role)))
        return [self._model(spec, role) for spec in self.settings.fallback if str(parse_spec(spec)) != own]

    def capabilities(self, role: str) -> list[AbstractCapability[Any]]:
        """What every agent of `role` carries: per-request retries, then the fallback chain."""
        extra = self.extra_capabilities() if self.extra_capabilities else []
        return [*extra, ResilientRequests(policy=self.policy, fallbacks=self.fallbacks(role), role=role)]

    def _model(self, spec_text: str, role: str) -> Model:
        spec = parse_spec(spec_text)
        if spec.provider == OFFLINE:
            model = self._offline(role)
        else:
            key = str(spec)
            if key not in self._cache:
                self._cache[key] = self._build_remote(spec)
            model = self._cache[key]
        return self.model_wrapper(model, role) if self.model_wrapper is not None else model

    def _offline(self, role: str) -> Model:
        if role == "synthesizer":
            return offline_synthesizer()
        if role == "router":
            from crossroads.offline.router_model import OfflineRouterModel

            return OfflineRouterModel(self.cards, self.settings.router.max_targets).model()
        if role not in self.cards:
            raise ConfigError(f"no offline model for role '{role}'")
        if self.scorer is None:
            self.scorer = CardIndex(self.cards)
        return OfflineSpecialist(self.cards[role], self.scorer, self.graph.neighbours(role)).model()

    # -- remote providers ---------------------------------------------------------------------------

    def http_client(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = shared_client(self.http_transport)
        return self._client

    def _build_remote(self, spec: ModelSpec) -> Model:
        key = api_key(spec, self.settings.api_key_env)
        base_url = spec.base_url or self.settings.base_url
        if spec.provider == "anthropic":
            from pydantic_ai.models.anthropic import AnthropicModel, AnthropicModelSettings
            from pydantic_ai.providers.anthropic import AnthropicProvider

            provider = AnthropicProvider(api_key=key, base_url=base_url, http_client=self.http_client())
            # Card system prompts are long and identical across asks: cache them (and the tool list).
            settings = AnthropicModelSettings(
                max_tokens=ANTHROPIC_MAX_TOKENS,
                max_retries=0,
                anthropic_cache_instructions=True,
                anthropic_cache_tool_definitions=True,
            )
            return AnthropicModel(spec.name, provider=provider, settings=settings)

        from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
        from pydantic_ai.providers.openai import OpenAIProvider

        if spec.provider == "openai-compatible":
            if not base_url:
                raise ConfigError(
                    f"model '{spec}' needs a base URL: set --base-url, CROSSROADS_BASE_URL or "
                    "base_url in the config file (e.g. http://localhost:11434/v1 for Ollama)"
                )
            from pydantic_ai.profiles.openai import OpenAIModelProfile

            # The key is passed explicitly even when absent, so OPENAI_API_KEY never reaches a third-party
            # server; local servers accept any placeholder.
            provider = OpenAIProvider(base_url=base_url, api_key=key or "not-needed", http_client=self.http_client())
            return OpenAIChatModel(
                spec.name,
                provider=provider,
                settings={"max_retries": 0},
                profile=OpenAIModelProfile(openai_supports_strict_tool_definition=False),
            )
        provider = OpenAIProvider(base_url=base_url, api_key=key, http_client=self.http_client())
        model_class = OpenAIResponsesModel if spec.provider == "openai" else OpenAIChatModel
        return model_class(spec.name, provider=provider, settings={"max_retries": 0})

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._cache.clear()
        if client is not None:
            await client.aclose()

    def describe(self) -> dict[str, Any]:
        roles = ["router", "synthesizer", *sorted(self.cards)]
        return {role: self.spec_for(role) for role in roles}
