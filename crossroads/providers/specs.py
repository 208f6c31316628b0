"""Model specs: the strings that pick a provider and a model, e.g. `anthropic:claude-sonnet-4-6`.

Parsing is separate from building so that configuration can be validated (and a missing API key
reported, naming the variable) before anything touches the network.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from crossroads.errors import ConfigError

if TYPE_CHECKING:
    from crossroads.cards import AgentCard
    from crossroads.config import Settings

OFFLINE = "offline"
Provider = Literal["offline", "anthropic", "openai", "openai-chat", "openai-compatible"]
PROVIDERS: tuple[Provider, ...] = ("offline", "anthropic", "openai", "openai-chat", "openai-compatible")

KEY_ENV: dict[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai-chat": "OPENAI_API_KEY",
}
"""The environment variable holding each hosted provider's key. `openai-compatible` uses
`settings.api_key_env` and may run without a key (local servers)."""


class ModelSpec(BaseModel):
    """A parsed model spec. `provider` is one of `PROVIDERS`; `name` is the provider's model id."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    name: str = ""
    base_url: str | None = None
    """From a `@http(s)://...` suffix: this model's own endpoint, over `settings.base_url`. It lets a
    fallback chain mix endpoints, e.g. `anthropic:claude-sonnet-4-6` then
    `openai-compatible:llama3.2@http://localhost:11434/v1`."""

    def __str__(self) -> str:
        if self.provider == OFFLINE:
            return OFFLINE
        return f"{self.provider}:{self.name}" + (f"@{self.base_url}" if self.base_url else "")


_URL_SUFFIX = re.compile(r"@(https?://\S+)$")


def parse_spec(spec: str) -> ModelSpec:
    """`offline` or `<provider>:<model>[@<base url>]`; anything else is a `ConfigError` listing the choices."""
    text = spec.strip()
    if text == OFFLINE:
        return ModelSpec(provider="offline")
    base_url = None
    if match := _URL_SUFFIX.search(text):
        base_url, text = match.group(1), text[: match.start()]
    provider, sep, name = text.partition(":")
    if not sep or not name.strip() or provider not in PROVIDERS or provider == OFFLINE:
        choices = "offline, " + ", ".join(f"{p}:<model>" for p in PROVIDERS if p != OFFLINE)
        raise ConfigError(f"model '{spec}': expected one of {choices}")
    return ModelSpec(provider=provider, name=name.strip(), base_url=base_url)


def api_key(spec: ModelSpec, compatible_key_env: str) -> str | None:
    """The key for `spec` from the environment; a `ConfigError` naming the variable when a hosted provider has none.

    Never logged: callers hand it straight to the provider SDK.
    """
    if spec.provider == OFFLINE:
        return None
    if spec.provider == "openai-compatible":
        return os.environ.get(compatible_key_env) or None
    var = KEY_ENV[spec.provider]
    key = os.environ.get(var, "").strip()
    if not key:
        raise ConfigError(f"model '{spec}' needs an API key: set the environment variable {var}")
    return key


def role_spec(settings: Settings, cards: Mapping[str, AgentCard], role: str) -> str:
    """The model spec of a role: a card's `model:` frontmatter, then `settings.models[role]`, then `settings.model`."""
    card = cards.get(role)
    if card is not None and card.model not in ("", "inherit"):
        return card.model
    return settings.models.get(role) or settings.model


def wants_router_model(settings: Settings, cards: Mapping[str, AgentCard]) -> bool:
    """Whether the LLM router gets a model: a remote one is configured, or `router.mode` is `llm`.

    With only the offline model configured, a cascade gains nothing from escalating to a model that reads
    the cards the way the local stage does; in `llm` mode the offline router model stands in.
    """
    return role_spec(settings, cards, "router") != OFFLINE or settings.router.mode == "llm"


def check_roles(settings: Settings, cards: Mapping[str, AgentCard]) -> None:
    """Validate every role's model and the fallback chain without building anything (no imports, no I/O).

    Raises `ConfigError` for a spec that does not parse, a hosted provider without its key, or an
    OpenAI-compatible server without a base URL: at start-up, naming the variable or the setting.
    """
    roles = ["router", "synthesizer", *cards]
    for text in [*(role_spec(settings, cards, r) for r in roles), *settings.fallback]:
        spec = parse_spec(text)
        api_key(spec, settings.api_key_env)
        if spec.provider == "openai-compatible" and not (spec.base_url or settings.base_url):
            raise ConfigError(
                f"model '{spec}' needs a base URL: set --base-url, CROSSROADS_BASE_URL or "
                "base_url in the config file (e.g. http://localhost:11434/v1 for Ollama)"
            )
