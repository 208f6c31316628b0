"""The cascade: the local classifier decides when it is sure, the LLM router only when it is not.

Every LLM call the cascade saves is cost and latency saved; the decision records which stage decided
and why, so a trace shows when (and how often) the router escalated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossroads.cards import PACKAGED_CARDS_DIR, AgentCard
from crossroads.config import RouterSettings
from crossroads.errors import RunError
from crossroads.result import RouteDecision
from crossroads.router.base import Router
from crossroads.router.decision import top_two
from crossroads.router.examples import example_files
from crossroads.router.local import PACKAGED_FITTED, LocalRouter, default_cache_dir, load_or_fit, model_key, write_model

if TYPE_CHECKING:
    from pydantic_ai.models import Model


class CascadeRouter:
    """`router.mode` in action: `local`, `llm`, or `cascade` (local first, LLM when unsure)."""

    def __init__(
        self,
        local: LocalRouter,
        llm: Router | None,
        settings: RouterSettings,
        *,
        llm_factory: Callable[[], Router | None] | None = None,
    ) -> None:
        self.local = local
        self._llm = llm
        self._llm_factory = llm_factory
        self.settings = settings

    @property
    def has_llm(self) -> bool:
        return self._llm is not None or self._llm_factory is not None

    def _llm_router(self) -> Router | None:
        """The LLM router, built on first use when only a factory was given (keeps startup fast)."""
        if self._llm is None and self._llm_factory is not None:
            factory, self._llm_factory = self._llm_factory, None
            self._llm = factory()
        return self._llm

    def escalation(self, decision: RouteDecision) -> str | None:
        """Why the local decision is not sure enough, or None when it is."""
        best, lead = top_two(decision.scores)
        s = self.settings
        if best < s.cascade_confidence:
            return f"best local confidence {best:.2f} < {s.cascade_confidence:.2f}"
        if lead < s.cascade_margin:
            return f"top-two margin {lead:.2f} < {s.cascade_margin:.2f}"
        return None

    async def route(self, question: str) -> RouteDecision:
        t0 = time.perf_counter()
        mode = self.settings.mode
        if mode == "llm" and self.has_llm:
            llm = self._llm_router()
            if llm is not None:
                return await llm.route(question)
        local = self.local.decide(question)
        if not self.has_llm:
            if mode != "local":
                local.reason += f" (mode {mode}, but no LLM router is configured: local decides)"
            return local
        if mode == "local":
            return local
        why = self.escalation(local)
        if why is None:
            local.reason = f"confident locally; {local.reason}"
            return local
        llm = self._llm_router()
        if llm is None:
            local.reason = f"{why}, but no LLM router is configured; {local.reason}"
            return local
        try:
            decision = await llm.route(question)
        except RunError as exc:
            local.reason = f"{why}, but the LLM router failed ({exc}); local decision kept; {local.reason}"
            local.duration_ms = (time.perf_counter() - t0) * 1000
            return local
        decision.reason = f"escalated ({why}); {decision.reason}"
        decision.duration_ms = (time.perf_counter() - t0) * 1000
        return decision


def user_example_files(cards: Mapping[str, AgentCard], settings: RouterSettings) -> list[Path]:
    """Packaged examples, `*.jsonl` beside user cards, then `router.examples` from the settings."""
    packaged = PACKAGED_CARDS_DIR.resolve()
    user_dirs = dict.fromkeys(
        Path(c.path).resolve().parent for c in cards.values() if c.path and Path(c.path).resolve().parent != packaged
    )
    return example_files(user_dirs, settings.examples)


def build_local(
    cards: Mapping[str, AgentCard], settings: RouterSettings, *, cache_dir: Path | None | bool = True
) -> LocalRouter:
    """The local router for these cards; `cache_dir=True` uses the user cache dir, False/None none."""
    from crossroads.router.semantic import resolve

    directory = default_cache_dir() if cache_dir is True else (cache_dir or None)
    semantic = resolve(settings.semantic)
    model = load_or_fit(cards, user_example_files(cards, settings), cache_dir=directory, semantic=semantic)
    return LocalRouter(model, settings)


def build_router(
    cards: Mapping[str, AgentCard],
    settings: RouterSettings,
    llm_model: Model | None = None,
    *,
    llm_model_factory: Callable[[], Model | None] | None = None,
    cache_dir: Path | None | bool = True,
    llm_capabilities: Sequence[Any] | Callable[[], Sequence[Any]] = (),
) -> CascadeRouter:
    """The router the orchestrator uses: local, LLM or the cascade of both, per `settings.mode`.

    `llm_model_factory` builds the LLM router's model only when a question first needs it, so a
    command that routes confident questions never imports the LLM stack. `llm_capabilities` go on the
    LLM router's agent (the provider layer's retries and fallback); a callable is called when the LLM
    router is built, so they too cost nothing until then.
    """
    local = build_local(cards, settings, cache_dir=cache_dir)
    if settings.mode == "local":
        return CascadeRouter(local, None, settings)

    def make_llm(model: Model | None) -> Router | None:
        if model is None:
            return None
        from crossroads.router.llm import LLMRouter

        capabilities = llm_capabilities() if callable(llm_capabilities) else llm_capabilities
        return LLMRouter(cards, settings, model, capabilities=capabilities)

    if llm_model is not None:
        return CascadeRouter(local, make_llm(llm_model), settings)
    if llm_model_factory is not None:
        factory = llm_model_factory
        return CascadeRouter(local, None, settings, llm_factory=lambda: make_llm(factory()))
    return CascadeRouter(local, None, settings)


def build_packaged_model() -> Path:
    """Fit the model for the packaged cards and examples and ship it in `PACKAGED_FITTED`.

    It replaces the previous one: run after changing a packaged card or the packaged examples.
    """
    from crossroads.cards import load_cards
    from crossroads.router.examples import example_files, load_many
    from crossroads.router.local import training_docs
    from crossroads.router.model import DEFAULT_HYPER, fit
    from crossroads.router.semantic import STATIC_TABLE, encoder_id

    cards = load_cards()
    files = example_files([])
    docs = training_docs(cards, load_many(files), DEFAULT_HYPER)
    semantic = "static" if STATIC_TABLE.is_file() else None
    model = fit(docs, sorted(cards), DEFAULT_HYPER, semantic=semantic)
    key = model_key(cards, files)
    path = PACKAGED_FITTED / f"model-{key}.json"
    write_model(path, model, keep=1)
    for old in PACKAGED_FITTED.glob("model-*.npz"):
        old.unlink()
    if model.semantic is not None:
        model.semantic.save(PACKAGED_FITTED / f"model-{key}.{encoder_id('static')}.npz")
    return path
