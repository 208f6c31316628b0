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


class CardModel(BaseModel):
    """How a card's `model:` resolved: the spec it runs on, and why it is not what the card asked for."""

    model_config = ConfigDict(frozen=True)

    card: str
    written: str
    spec: str
    """What the card runs on: the resolved model, or the configured default when it falls back."""
    wanted: str | None = None
    """The spec the card asked for, when it resolved to one (`sonnet` -> `anthropic:claude-sonnet-5-5`)."""
    fallback: str | None = None
    """Why the card runs on the configured default instead (unknown alias, no API key); None when it does not."""

    def warning(self, where: str = "") -> str | None:
        """One line naming the card (and `where`, its file:line) when it falls back, else None."""
        if self.fallback is None:
            return None
        place = f" ({where})" if where else ""
        wanted = f" ({self.wanted})" if self.wanted and self.wanted != self.written else ""
        head = f"card '{self.card}'{place}: model '{self.written}'{wanted}"
        return f"{head} {self.fallback}: using the default '{self.spec}'"


def fallback_summary(models: list[CardModel], limit: int = 8) -> list[str]:
    """Card model fallbacks grouped by reason, one line per reason naming the cards.

    A folder of 150 cards that all say `model: sonnet` on a machine without an Anthropic key is one
    warning naming them, not 150.
    """
    groups: dict[tuple[str, str], list[CardModel]] = {}
    for m in models:
        if m.fallback is not None:
            groups.setdefault((m.fallback, m.spec), []).append(m)
    lines: list[str] = []
    for (reason, spec), members in groups.items():
        names = ", ".join(f"{m.card} ({m.written})" for m in members[:limit])
        more = f" and {len(members) - limit} more" if len(members) > limit else ""
        noun = "card" if len(members) == 1 else f"{len(members)} cards"
        lines.append(f"{noun} {names}{more}: model {reason}: using the default '{spec}'")
    return lines


_BARE_IDS: tuple[tuple[str, Provider], ...] = (
    ("claude-", "anthropic"),
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
)
"""A full model id written without a provider (`model: claude-sonnet-4-5-20250929`, Claude Code style)."""


def card_model(settings: Settings, card: AgentCard) -> CardModel:
    """Resolve a card's `model:`: `inherit`, an alias (`settings.model_aliases`), a bare model id or a spec.

    A card never breaks an ask: a model that does not resolve, or whose provider has no key here, falls
    back to the role's configured default (`settings.models[card]`, else `settings.model`), and the
    returned `CardModel.fallback` says why, so the caller can warn once naming the card.
    """
    default = settings.models.get(card.name) or settings.model
    written = card.model.strip()
    if written in ("", "inherit"):
        return CardModel(card=card.name, written=written or "inherit", spec=default)
    aliases = {k.lower(): v for k, v in settings.model_aliases.items()}
    text = aliases.get(written.lower())
    if text is None:
        text = next((f"{p}:{written}" for prefix, p in _BARE_IDS if written.startswith(prefix)), written)
    try:
        spec = parse_spec(text)
    except ConfigError:
        known = ", ".join(sorted(settings.model_aliases)) or "none"
        reason = f"is neither an alias ({known}, inherit), a model id nor a model spec"
        return CardModel(card=card.name, written=written, spec=default, fallback=reason)
    wanted = str(spec)
    try:
        api_key(spec, settings.api_key_env)
    except ConfigError:
        var = KEY_ENV.get(spec.provider, settings.api_key_env)
        reason = f"needs {var}, which is not set"
        return CardModel(card=card.name, written=written, spec=default, wanted=wanted, fallback=reason)
    if spec.provider == "openai-compatible" and not (spec.base_url or settings.base_url):
        reason = "needs a base URL (base_url)"
        return CardModel(card=card.name, written=written, spec=default, wanted=wanted, fallback=reason)
    return CardModel(card=card.name, written=written, spec=wanted, wanted=wanted)


def card_models(settings: Settings, cards: Mapping[str, AgentCard]) -> list[CardModel]:
    """`card_model` of every card, in name order."""
    return [card_model(settings, cards[name]) for name in sorted(cards)]


def role_spec(settings: Settings, cards: Mapping[str, AgentCard], role: str) -> str:
    """The model spec of a role: a card's resolved `model:`, else `settings.models[role]`, else `settings.model`."""
    card = cards.get(role)
    if card is not None:
        return card_model(settings, card).spec
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
    OpenAI-compatible server without a base URL: at start-up, naming the variable or the setting. A card's
    own `model:` never raises here: it falls back to the configured default (`card_model`).
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
