"""The `Orchestrator`: request -> route -> specialists (with tools and handoffs) -> synthesis -> result.

It is the one object the CLI, the HTTP API and the MCP server wrap, and the only place that builds the
team's parts (cards, graph, router, models, agents, toolbox). Cards and graph are read and validated at
construction, which is cheap; the router is built on first use, and the models and agents when the
first question is answered (or by `prepare()`, which also checks every model spec and API key: a
server calls it at start-up). So listing the cards or routing a question never imports the LLM stack
or needs a key. It holds no global state and runs on the caller's event loop; `ask_sync`
is for scripts without one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossroads.cards import AgentCard, CardSet, agent_id, scan_cards
from crossroads.config import Settings, load_settings
from crossroads.conversation import (
    Conversation,
    ConversationStore,
    MemoryConversations,
    Rules,
    check_id,
)
from crossroads.errors import ConfigError, InputError
from crossroads.events import (
    StreamEvent,
)
from crossroads.graph import HandoffGraph
from crossroads.providers.specs import CardModel, card_models, check_roles, fallback_summary, wants_router_model
from crossroads.result import AskResult, RouteDecision
from crossroads.router.base import Router
from crossroads.trace import Trace

if TYPE_CHECKING:
    import httpx2
    from pydantic_ai.models import Model

    from crossroads.agents.mcp import McpServers, ServerState
    from crossroads.agents.team import Team
    from crossroads.offline.specialist import Scorer
    from crossroads.pipeline import AskContext, Pipeline
    from crossroads.providers import ModelFactory
    from crossroads.providers.resilience import Sleep
    from crossroads.router.cascade import CascadeRouter
    from crossroads.storage import TraceStore
    from crossroads.telemetry import Telemetry
    from crossroads.tools.base import SandboxTools


def _log() -> Any:
    """The orchestrator's logger; structlog is imported on first use, so routing a question never pays for it."""
    import structlog

    return structlog.get_logger("crossroads")


class Orchestrator:
    """Answers technical questions with a team of specialist agents.

    ```python
    async with Orchestrator() as crossroads:
        result = await crossroads.ask("How do I autoscale a model server on Kubernetes?")
        print(result.answer, result.route.agents)
    ```
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        cards_dirs: Sequence[Path | str] = (),
        toolbox: SandboxTools | None = None,
        router: Router | None = None,
        scorer: Scorer | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        retry_sleep: Sleep | None = None,
        trace_store: TraceStore | bool = False,
        model_wrapper: Callable[[Model, str], Model] | None = None,
        tracer_provider: Any = None,
    ) -> None:
        """Read and validate cards, graph and model specs; the rest is built on first use.

        `toolbox` replaces the sandbox (tests); `router` replaces the router, and `scorer` how offline
        specialists judge handoffs (default: the router's classifier when crossroads builds the router,
        else BM25 over the cards). `http_transport` replaces the network for every provider (tests,
        recording); `retry_sleep` the wait between retries of a failed model request (tests pass one that
        returns at once); `model_wrapper(model, role)` wraps every model (scenario record/replay).
        `trace_store`: False (the library default) stores nothing; True opens the store at
        `settings.trace_db` (unless that is `off`) and closes it in `aclose`; a `TraceStore`
        instance is used as given and only flushed in `aclose` (its owner closes it).
        `tracer_provider`: an OpenTelemetry provider to send spans to (else `settings.otel_endpoint`).

        Cards: the packaged ones (unless `settings.builtin_cards` is false), then `settings.cards` and
        `cards_dirs`. A broken card file is skipped and logged as a warning naming file, line and field
        (`card_set.issues` has every issue); with `settings.strict_cards` any warning is a `CardError`.
        Raises `CardError` or `GraphError` for a broken card or graph (model specs: see `prepare`).
        """
        self.settings = settings or load_settings()
        self.card_set: CardSet = scan_cards(
            [*self.settings.cards, *cards_dirs],
            include_packaged=self.settings.builtin_cards,
            mcp_files=self.settings.mcp.config,
        )
        if self.settings.strict_cards:
            self.card_set.raise_if_strict()
        self.cards: dict[str, AgentCard] = self.card_set.cards
        self._cards_reported = False
        self.graph = HandoffGraph.build(self.cards, self.settings.graph, packaged=self.settings.builtin_cards)
        self._router = router
        self._scorer = scorer
        self._toolbox = toolbox
        self._http_transport = http_transport
        self._retry_sleep = retry_sleep
        self._model_wrapper = model_wrapper
        self._tracer_provider = tracer_provider
        self._runner: asyncio.Runner | None = None
        self._owns_store = trace_store is True
        self.trace_store: TraceStore | None = None
        if trace_store is True:
            from crossroads.storage import store_from_settings

            self.trace_store = store_from_settings(self.settings)
        elif trace_store is not False:
            self.trace_store = trace_store

    # -- the parts, built on first use -----------------------------------------------------------------

    def report_cards(self) -> None:
        """Log each skipped card file and card warning, once per orchestrator (structlog, stderr).

        `prepare` and the first routing call it; `crossroads agents --check` lists them (and the notes).
        """
        if self._cards_reported:
            return
        self._cards_reported = True
        if problems := self.card_set.problems():
            self._ensure_logging()
            for issue in problems:
                _log().warning("card.skipped" if issue.severity == "error" else "card.warning", detail=str(issue))

    @cached_property
    def router(self) -> Router:
        """The router given to the constructor, else the cascade of `settings.router.mode`."""
        self.report_cards()
        if self._router is not None:
            return self._router
        return self.cascade

    @cached_property
    def cascade(self) -> CascadeRouter:
        """The built-in router: the local classifier, and the LLM router of `settings.router.mode`."""
        from crossroads.router import build_router

        factory = self._router_model if wants_router_model(self.settings, self.cards) else None
        return build_router(
            self.cards, self.settings.router, llm_model_factory=factory, llm_capabilities=self._router_capabilities
        )

    def _router_model(self) -> Model | None:
        self._ensure_logging()
        return self.models.router()

    def _ensure_logging(self) -> None:
        """Configure structlog from the settings, unless the host application already has."""
        import structlog

        if not structlog.is_configured():
            from crossroads.logs import configure_logging

            configure_logging(self.settings.log_format, self.settings.log_level)

    def _router_capabilities(self) -> list[Any]:
        from crossroads.agents.tracing import trace_hooks

        return [*self.models.capabilities("router"), trace_hooks()]

    @cached_property
    def telemetry(self) -> Telemetry | None:
        """OpenTelemetry export (`settings.otel_endpoint` or the given tracer provider), or None."""
        from crossroads.telemetry import build_telemetry

        return build_telemetry(
            self.settings.otel_endpoint, self._tracer_provider, include_content=self.settings.otel_include_content
        )

    @cached_property
    def models(self) -> ModelFactory:
        """The model of every role, with retries and the fallback chain."""
        from crossroads.providers import ModelFactory

        scorer = self._scorer
        if scorer is None and self._router is None:  # offline specialists judge handoffs with the classifier
            scorer = self.cascade.local.scores
        telemetry = self.telemetry
        return ModelFactory(
            self.settings,
            self.cards,
            self.graph,
            http_transport=self._http_transport,
            sleep=self._retry_sleep,
            model_wrapper=self._model_wrapper,
            extra_capabilities=telemetry.capabilities if telemetry else None,
            scorer=scorer,
        )

    @cached_property
    def toolbox(self) -> SandboxTools:
        """The sandboxed tools (the given toolbox, else a `Toolbox` from `settings.sandbox`)."""
        if self._toolbox is not None:
            return self._toolbox
        from crossroads.tools import Toolbox

        return Toolbox(self.settings.sandbox)

    @cached_property
    def rules(self) -> Rules:
        """Follow-up routing and history bounds (`settings.conversation`)."""
        return Rules(**self.settings.conversation.model_dump())

    @cached_property
    def conversations(self) -> ConversationStore:
        """Where conversations live: the trace store's database, else this process's memory."""
        return self.trace_store if self.trace_store is not None else MemoryConversations()

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        """A stored conversation with its turns (route and trace of each), or None."""
        return await self.conversations.aget_conversation(check_id(conversation_id))

    @staticmethod
    def new_conversation_id() -> str:
        """A fresh id to start a conversation with (any id the caller picks works too)."""
        return uuid.uuid4().hex

    @cached_property
    def pipeline(self) -> Pipeline:
        """Runs the asks (`crossroads.pipeline`)."""
        from crossroads.pipeline import Pipeline

        return Pipeline(self)

    @cached_property
    def team(self) -> Team:
        """One pydantic-ai agent per card, the handoff tool and the synthesiser."""
        from crossroads.agents.team import Team

        return Team(
            self.cards,
            self.graph,
            self.models,
            self.toolbox,
            max_hops=self.settings.limits.max_hops,
            mcp=self.mcp_servers,
        )

    @cached_property
    def mcp_servers(self) -> McpServers:
        """The MCP servers the cards bring (`mcpServers`): started on a specialist's first run, stopped in `aclose`."""
        from crossroads.agents.mcp import McpServers

        return McpServers(self.cards, self.settings.mcp)

    async def probe_mcp(self) -> dict[str, list[tuple[ServerState, str | None]]]:
        """Start every card's MCP servers now: per card, each server with its start error or None.

        For `crossroads agents --check`; the servers stay up until `aclose`.
        """
        from crossroads.agents.mcp import probe

        return {
            name: await probe(self.mcp_servers, name) for name in sorted(self.cards) if self.cards[name].mcp_servers
        }

    def card_models(self) -> list[CardModel]:
        """How every card's `model:` resolves here (alias, key present), with the reason of any fallback."""
        return card_models(self.settings, self.cards)

    def _agent_id(self, name: str) -> str:
        return name if name in self.cards else agent_id(name)

    def _where(self, card: str, key: str) -> str:
        c = self.cards[card]
        line = c.field_lines.get(key)
        return f"{c.path}:{line}" if line else c.path

    def check_config(self, *, warn: bool = True) -> list[str]:
        """Check every model spec and key without building anything; the card model fallbacks, one line each.

        Raises `ConfigError` as `prepare` does, and for a card model that falls back when
        `settings.strict_cards` is set. `warn` logs the fallbacks: one warning per reason, naming the cards.
        """
        check_roles(self.settings, self.cards)
        models = self.card_models()
        fallbacks = [w for m in models if (w := m.warning(self._where(m.card, "model")))]
        if fallbacks and self.settings.strict_cards:
            more = f" (and {len(fallbacks) - 1} more)" if len(fallbacks) > 1 else ""
            raise ConfigError(f"{fallbacks[0]}{more}; strict_cards refuses model fallbacks")
        if warn:
            for line in fallback_summary(models):
                _log().warning("card.model_fallback", detail=line)
        return fallbacks

    def prepare(self) -> Orchestrator:
        """Check every model spec and key, and build the router, the models and the agents now.

        Raises `ConfigError` for a model spec that does not parse, a hosted model whose API key is not
        set, or an OpenAI-compatible model without a base URL. A card whose `model:` cannot be used here
        (unknown alias, no key for its provider) runs on the configured default, with one warning naming
        the card (`check_config`). `ask` and `stream` call it; call it yourself to fail at start-up rather
        than at the first question. Returns the orchestrator.
        """
        if "team" not in self.__dict__:
            self._ensure_logging()
            self.report_cards()
            self.check_config()
            _ = self.router, self.team
        return self

    # -- public API -------------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """Reject input that cannot be answered, with a message that says why."""
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        limit = self.settings.limits.max_question_chars
        if len(question) > limit:
            raise InputError(
                f"the question is {len(question)} characters long; the limit is {limit} (limits.max_question_chars)"
            )
        return question.strip()

    def check_request(self, question: str, agent: str | None) -> str:
        """`check_question`, and an `agent` that bypasses routing must be one of the specialists.

        A card's name as written (`data_scientist`) names it as well as its agent id (`data-scientist`).
        """
        question = self.check_question(question)
        if agent is not None and self._agent_id(agent) not in self.cards:
            raise InputError(f"unknown agent '{agent}'; known: {', '.join(sorted(self.cards))}")
        return question

    async def route(self, question: str) -> RouteDecision:
        """Which specialists would answer, without asking them."""
        return await self.router.route(self.check_question(question))

    async def ask(
        self,
        question: str,
        *,
        agent: str | None = None,
        conversation: str | Conversation | None = None,
        instructions: str | None = None,
        model_settings: Mapping[str, Any] | None = None,
    ) -> AskResult:
        """Answer one question. `agent` bypasses routing and asks that specialist directly.

        `conversation` makes the question a follow-up: the id of a stored conversation (created on
        first use; this question and its answer are appended to it), or a `Conversation` whose turns
        are the history (nothing is stored: the OpenAI endpoint passes its `messages` this way). A
        follow-up is routed with the previous turn as context (`crossroads.conversation`) and the
        specialists receive the earlier turns within `conversation.history_tokens`; the result's
        `conversation` field says what they received. `instructions` are extra instructions for every
        specialist and the synthesiser (an OpenAI system prompt); `model_settings` (temperature,
        top_p, seed) go to every model request.

        Raises `InputError` for unusable input, `LimitExceeded` when a per-ask limit is hit and
        `RunError` subclasses for other failures; run errors carry the partial result as `.partial`.
        """
        question, context, trace = await self._begin(question, agent, conversation, instructions, model_settings)
        import structlog

        with structlog.contextvars.bound_contextvars(trace_id=trace.trace_id):
            return await self._ask(question, agent, trace, context)

    async def stream(
        self,
        question: str,
        *,
        agent: str | None = None,
        conversation: str | Conversation | None = None,
        instructions: str | None = None,
        model_settings: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """The events of one ask as they happen (`crossroads.events`), ending with `done` or `error`.

        ```python
        async for event in crossroads.stream("Is 2**10 = 1024?"):
            if event.type == "text_delta":
                print(event.delta, end="")
        ```

        The answer's `text_delta`s come from the model as it writes them (the single specialist's
        run, or the synthesiser's), so the first one arrives after routing and the model's own first
        token, not after the whole pipeline. Retries and fallback happen before the first token; a
        failure after it ends the stream with an `error` event whose partial result holds the text
        sent so far.

        The other arguments are those of `ask`. Unusable input (or conversation) raises `InputError`
        on the first iteration; failures while answering arrive as an `error` event carrying the
        partial result. Leaving the loop early cancels the ask.
        """
        from crossroads.streaming import stream_events

        question, context, trace = await self._begin(question, agent, conversation, instructions, model_settings)

        def run() -> Any:
            return self._ask(question, agent, trace, context, stream=True)

        async with aclosing(stream_events(run, trace)) as events:
            async for event in events:
                yield event

    def ask_sync(
        self, question: str, *, agent: str | None = None, conversation: str | Conversation | None = None
    ) -> AskResult:
        """`ask` for code without an event loop; reuses one private loop across calls."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self.ask(question, agent=agent, conversation=conversation))

    async def aclose(self) -> None:
        """Close what was built: MCP servers, the toolbox, the providers' HTTP client, telemetry, the trace store."""
        built = self.__dict__
        if "mcp_servers" in built:  # the MCP servers the specialists started
            await self.mcp_servers.aclose()
        if "toolbox" in built or self._toolbox is not None:  # a given toolbox is closed too
            await self.toolbox.aclose()
        if "models" in built:
            await self.models.aclose()
        if "telemetry" in built and self.telemetry is not None:
            self.telemetry.shutdown()
        if self.trace_store is not None:
            await (self.trace_store.aclose() if self._owns_store else self.trace_store.aflush())

    def close(self) -> None:
        """Sync counterpart of `aclose` for `ask_sync` users."""
        if self._runner is not None:
            self._runner.run(self.aclose())
            self._runner.close()
            self._runner = None

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one ask --------------------------------------------------------------------------------------

    async def _begin(
        self,
        question: str,
        agent: str | None,
        conversation: str | Conversation | None,
        instructions: str | None,
        model_settings: Mapping[str, Any] | None,
    ) -> tuple[str, AskContext, Trace]:
        """What `ask` and `stream` check before anything runs: the request, the parts, the conversation."""
        question = self.check_request(question, agent)
        self.prepare()
        context = await self.pipeline.load_context(conversation, instructions, model_settings)
        return question, context, Trace(trace_id=uuid.uuid4().hex)

    async def _ask(
        self, question: str, agent: str | None, trace: Trace, context: AskContext, *, stream: bool = False
    ) -> AskResult:
        from crossroads.streaming import AnswerStream

        answer = AnswerStream(trace) if stream else None
        if self.telemetry is None:
            return await self.pipeline.run(question, agent, trace, context, answer)
        with self.telemetry.tracer.start_as_current_span("crossroads.ask") as span:
            span.set_attribute("crossroads.trace_id", trace.trace_id)
            result = await self.pipeline.run(question, agent, trace, context, answer)
            span.set_attribute("crossroads.route", result.route.agents)
            span.set_attribute("crossroads.handoff_path", result.handoff_path)
            span.set_attribute("crossroads.status", result.status)
            return result
