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
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossroads.cards import AgentCard, CardSet, agent_id, scan_cards
from crossroads.config import Settings, load_settings
from crossroads.conversation import (
    Conversation,
    ConversationStore,
    History,
    MemoryConversations,
    Rules,
    Turn,
    bound_history,
    check_id,
    history_instructions,
    route_follow_up,
    with_context,
    word_count,
)
from crossroads.errors import ConfigError, CrossroadsError, InputError, LimitExceeded, ProviderError, RunError
from crossroads.events import (
    Done,
    ErrorEvent,
    RouteDecided,
    SpecialistFinished,
    SpecialistStarted,
    StreamEvent,
    SynthesisStarted,
)
from crossroads.graph import ROUTER, HandoffGraph
from crossroads.providers.specs import CardModel, card_models, check_roles, fallback_summary, wants_router_model
from crossroads.redact import redact
from crossroads.result import AskResult, HistoryWindow, RouteDecision, RouteTarget, SpecialistAnswer, Usage
from crossroads.router.base import Router
from crossroads.trace import Trace, ambient

if TYPE_CHECKING:
    import httpx2
    from pydantic_ai.models import Model
    from pydantic_ai.usage import RunUsage, UsageLimits

    from crossroads.agents.mcp import McpServers, ServerState
    from crossroads.agents.team import RunDeps, Team
    from crossroads.offline.specialist import Scorer
    from crossroads.providers import ModelFactory
    from crossroads.providers.resilience import Sleep
    from crossroads.router.cascade import CascadeRouter
    from crossroads.storage import TraceStore
    from crossroads.streaming import AnswerStream
    from crossroads.telemetry import Telemetry
    from crossroads.tools.base import SandboxTools


def _log() -> Any:
    """The orchestrator's logger; structlog is imported on first use, so routing a question never pays for it."""
    import structlog

    return structlog.get_logger("crossroads")


@dataclass
class AskContext:
    """What an ask brings besides its question: a conversation's history, caller instructions, settings.

    Built by `Orchestrator.ask`/`stream` from their arguments, before the pipeline starts, so a
    conversation that cannot be loaded (an unusable id, a broken store) fails like bad input.
    """

    conversation: Conversation
    """The earlier turns (empty for a lone question or a new conversation)."""
    store_id: str | None = None
    """The stored conversation this ask's turns are appended to (None: nothing is stored)."""
    history: History | None = None
    """What of `conversation` the specialists receive (None: no earlier turn)."""
    instructions: str | None = None
    """The run instructions: caller instructions plus the summary of older turns."""
    caller_instructions: bool = False
    model_settings: dict[str, Any] | None = None
    budget_tokens: int = 0

    @property
    def window(self) -> HistoryWindow | None:
        """What the result states about the conversation (None for a lone question)."""
        if self.history is not None:
            return self.history.window
        if self.store_id is not None or self.caller_instructions:
            return HistoryWindow(
                conversation_id=self.store_id, instructions=self.caller_instructions, budget_tokens=self.budget_tokens
            )
        return None


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
        question = self.check_request(question, agent)
        self.prepare()
        context = await self._context(conversation, instructions, model_settings)
        trace = Trace(trace_id=uuid.uuid4().hex)
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

        question = self.check_request(question, agent)
        self.prepare()
        context = await self._context(conversation, instructions, model_settings)
        trace = Trace(trace_id=uuid.uuid4().hex)

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

    # -- the pipeline -----------------------------------------------------------------------------

    async def _context(
        self,
        conversation: str | Conversation | None,
        instructions: str | None,
        model_settings: Mapping[str, Any] | None,
    ) -> AskContext:
        """Load the conversation (by id) and bound its history; an unusable one is an `InputError`."""
        store_id = None
        if isinstance(conversation, str):
            store_id = check_id(conversation)
            history = await self.conversations.aget_conversation(store_id) or Conversation(id=store_id)
        elif isinstance(conversation, Conversation):
            history = conversation
        elif conversation is None:
            history = Conversation()
        else:
            raise InputError("conversation: a conversation id or a Conversation")
        if len(history.turns) + 2 > self.rules.max_turns:
            raise InputError(
                f"the conversation has {len(history.turns)} turns; the limit is {self.rules.max_turns}"
                " (conversation.max_turns): start a new one"
            )
        caller = bool(instructions and instructions.strip())
        bounded = bound_history(history, self.rules, stored=store_id is not None, instructions=caller)
        bounded = bounded if history.exchanges() else None
        return AskContext(
            conversation=history,
            store_id=store_id,
            history=bounded,
            instructions=history_instructions(bounded, instructions),
            caller_instructions=caller,
            model_settings=dict(model_settings) if model_settings else None,
            budget_tokens=self.rules.history_tokens,
        )

    async def _ask(
        self, question: str, agent: str | None, trace: Trace, context: AskContext, *, stream: bool = False
    ) -> AskResult:
        from crossroads.streaming import AnswerStream

        answer = AnswerStream(trace) if stream else None
        if self.telemetry is None:
            return await self._pipeline(question, agent, trace, context, answer)
        with self.telemetry.tracer.start_as_current_span("crossroads.ask") as span:
            span.set_attribute("crossroads.trace_id", trace.trace_id)
            result = await self._pipeline(question, agent, trace, context, answer)
            span.set_attribute("crossroads.route", result.route.agents)
            span.set_attribute("crossroads.handoff_path", result.handoff_path)
            span.set_attribute("crossroads.status", result.status)
            return result

    async def _decide(self, question: str, agent: str | None, context: AskContext) -> RouteDecision:
        if agent is not None:
            target = RouteTarget(agent=self._agent_id(agent), confidence=1.0, sub_question=question)
            return RouteDecision(targets=[target], stage="fixed", reason="agent chosen by the caller")
        previous = context.conversation.previous()
        if previous is None:
            return await self.router.route(question)
        asked, answered = previous
        agents = list((answered.agents if answered is not None else []) or asked.agents)
        if not agents and asked.trace_id is None and asked.content.strip():
            # History the caller sent (OpenAI messages) does not say who answered it: route it again.
            agents = (await self.router.route(asked.content[: self.settings.limits.max_question_chars])).agents
        alone = await self.router.route(question)
        in_context = None
        if agents and word_count(question) > self.rules.short_follow_up_words and asked.content.strip():
            limit = self.settings.limits.max_question_chars
            in_context = await self.router.route(with_context(asked.content, question)[-limit:])
        return route_follow_up(question, agents, alone, in_context, self.rules)

    async def _remember(self, context: AskContext, result: AskResult) -> None:
        """Append this exchange to its stored conversation before `done`, so a follow-up sent at once finds it."""
        if context.store_id is None:
            return
        agents = result.route.agents
        turns = [
            Turn(role="user", content=result.question, trace_id=result.trace_id, agents=agents),
            Turn(role="assistant", content=result.answer, trace_id=result.trace_id, agents=agents),
        ]
        try:
            await self.conversations.aappend_turns(context.store_id, turns)
        except Exception as exc:  # the answer is not lost to a storage failure; the follow-up lacks this turn
            _log().error(
                "conversation.store_failed", conversation=context.store_id, error=f"{type(exc).__name__}: {exc}"
            )

    async def _pipeline(
        self,
        question: str,
        agent: str | None,
        trace: Trace,
        context: AskContext,
        answer: AnswerStream | None = None,
    ) -> AskResult:
        """Route, answer, synthesise. With `answer` (a streamed ask) the final answer's text goes to it."""
        from pydantic_ai.exceptions import UsageLimitExceeded
        from pydantic_ai.usage import RunUsage, UsageLimits

        t0 = trace.started = time.perf_counter()  # records' started_ms count from here, like duration_ms
        result = AskResult(
            trace_id=trace.trace_id, question=question, answer="", route=RouteDecision(), conversation=context.window
        )
        answers: list[SpecialistAnswer] = []
        usage = RunUsage()
        limits = UsageLimits(
            request_limit=self.settings.limits.max_requests, total_tokens_limit=self.settings.limits.max_tokens
        )
        try:
            with ambient("router", trace):  # the LLM router's requests and failed attempts join the trace
                result.route = decision = await self._decide(question, agent, context)
            trace.emit(RouteDecided(decision=decision))
            _log().info("route", agents=decision.agents, stage=decision.stage, abstain=decision.abstain)
            if decision.abstain or not decision.targets:
                result.status = "out_of_scope"
                result.answer = self._out_of_scope_answer()
                if answer is not None:
                    answer.send_whole(result.answer)
                await self._remember(context, result)
                return self._finish(result, trace, answers, t0)
            async with asyncio.timeout(self.settings.timeout):
                single = answer if len(decision.targets) == 1 else None  # one specialist: its text is the answer
                await self._run_branches(question, decision, trace, usage, limits, answers, context, single)
                good = [a for a in answers if a.error is None]
                if not good:
                    failures = "; ".join(f"{a.agent}: {a.error}" for a in answers)
                    raise ProviderError(f"every specialist failed: {failures}")
                result.answer = await self._synthesize(question, good, trace, usage, limits, context, answer)
            if answer is not None:
                answer.send_whole(result.answer)  # an answer no model streamed (one survivor of several)
                result.answer = answer.text
            await self._remember(context, result)
        except TimeoutError:
            exc = LimitExceeded("timeout", f"the ask took longer than {self.settings.timeout:g} s")
            raise self._failed(exc, result, trace, answers, t0, answer) from None
        except UsageLimitExceeded:
            raise self._failed(_usage_limit(usage, limits), result, trace, answers, t0, answer) from None
        except CrossroadsError as exc:
            raise self._failed(exc, result, trace, answers, t0, answer) from None
        except asyncio.CancelledError:  # the caller went away: keep what was done, marked as cancelled
            result.status, result.error = "cancelled", "the ask was cancelled by its caller"
            if answer is not None:
                result.answer = answer.text
            self._finish(result, trace, answers, t0, emit=False)
            raise
        if any(a.error for a in answers):
            result.error = "; ".join(f"{a.agent}: {a.error}" for a in answers if a.error)
        return self._finish(result, trace, answers, t0)

    async def _run_branches(
        self,
        question: str,
        decision: RouteDecision,
        trace: Trace,
        usage: RunUsage,
        limits: UsageLimits,
        answers: list[SpecialistAnswer],
        context: AskContext,
        answer: AnswerStream | None = None,
    ) -> None:
        """Every routed specialist concurrently; their answers (or failures) appended to `answers`.

        A limit hit by one branch ends the ask; any other failure of a branch is its answer's `error`.
        `answer` (only with a single target) makes that branch stream its text as the final answer.
        """
        from pydantic_ai.exceptions import UsageLimitExceeded

        from crossroads.agents.team import history_messages, new_branch

        names = [t.agent for t in decision.targets]
        claimed = set(names)  # shared: no two branches bring in the same neighbour
        history = history_messages(context.history.exchanges) if context.history else []
        branches = [
            new_branch(
                t.agent,
                trace,
                self.team,
                question,
                names,
                claimed,
                answer=answer,
                history=history,
                instructions=context.instructions,
                model_settings=context.model_settings,
            )
            for t in decision.targets
        ]
        outcomes = await asyncio.gather(
            *(self._run_branch(t, deps, usage, limits) for t, deps in zip(decision.targets, branches, strict=True)),
            return_exceptions=True,
        )
        for target, deps, outcome in zip(decision.targets, branches, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
            if isinstance(outcome, LimitExceeded | UsageLimitExceeded):
                raise outcome
            failed = isinstance(outcome, Exception)
            answers.append(
                SpecialistAnswer(
                    agent=target.agent,
                    question=target.sub_question,
                    path=list(deps.visited),
                    answer="" if failed else str(outcome),
                    error=redact(_describe(outcome)) if isinstance(outcome, Exception) else None,
                )
            )

    async def _run_branch(self, target: RouteTarget, deps: RunDeps, usage: RunUsage, limits: UsageLimits) -> str:
        trace = deps.trace
        trace.emit(SpecialistStarted(agent=target.agent, question=target.sub_question))
        answer = await self.team.run_specialist(target.agent, target.sub_question, deps, usage, limits)
        trace.emit(SpecialistFinished(agent=target.agent))
        return answer

    async def _synthesize(
        self,
        question: str,
        answers: list[SpecialistAnswer],
        trace: Trace,
        usage: RunUsage,
        limits: UsageLimits,
        context: AskContext,
        answer: AnswerStream | None = None,
    ) -> str:
        """One answer from several; a synthesiser that fails (every retry and fallback) is a `ProviderError`."""
        if len(answers) == 1:
            return answers[0].answer
        from pydantic_ai.exceptions import UsageLimitExceeded

        from crossroads.agents.team import RunDeps, history_messages
        from crossroads.prompting import SpecialistOutput

        outputs = [SpecialistOutput(a.agent, self.cards[a.agent].display_name, a.answer) for a in answers]
        deps = RunDeps(
            agent="synthesizer",
            trace=trace,
            team=self.team,
            question=question,
            visited=[ROUTER],
            answer=answer,
            history=history_messages(context.history.exchanges) if context.history else [],
            instructions=context.instructions,
            model_settings=context.model_settings,
        )
        trace.emit(SynthesisStarted(agents=[a.agent for a in answers]))
        try:
            return await self.team.synthesize(question, outputs, deps, usage, limits)
        except (CrossroadsError, UsageLimitExceeded):
            raise
        except Exception as exc:
            raise ProviderError(f"the synthesis failed: {_describe(exc)}") from exc

    def _out_of_scope_answer(self) -> str:
        listing = "\n".join(f"- {c.display_name} (`{n}`): {c.description}" for n, c in sorted(self.cards.items()))
        return (
            "This question is outside what crossroads' specialists cover, so no specialist was asked."
            f" The specialists are:\n{listing}"
        )

    def _finish(
        self, result: AskResult, trace: Trace, answers: list[SpecialistAnswer], t0: float, *, emit: bool = True
    ) -> AskResult:
        """Fill the result from the trace, store it, and announce it (`done`) unless it failed."""
        result.specialists = answers
        path = [ROUTER]
        for a in answers:
            path.extend(a.path[1:])
        result.handoff_path = path
        result.handoffs = list(trace.handoffs)
        result.tool_calls = list(trace.tool_calls)
        result.model_requests = list(trace.model_requests)
        usage = Usage()
        for record in trace.model_requests:
            usage.add(record)
        result.usage = usage
        result.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
        if emit and result.status != "error":
            trace.emit(Done(result=result))
        if self.trace_store is not None:
            try:
                self.trace_store.submit(result)
            except Exception as exc:  # storing is best effort: the computed answer is never lost to it
                _log().error("trace.store_failed", error=f"{type(exc).__name__}: {exc}")
        _log().info("answered", status=result.status, duration_ms=result.duration_ms, requests=usage.requests)
        return result

    def _failed(
        self,
        exc: CrossroadsError,
        result: AskResult,
        trace: Trace,
        answers: list[SpecialistAnswer],
        t0: float,
        answer: AnswerStream | None = None,
    ) -> CrossroadsError:
        result.status = "error"
        result.error = redact(str(exc))
        if answer is not None and answer.started:  # the client has these tokens: the partial result shows them
            result.answer = answer.text
        finished = self._finish(result, trace, answers, t0)
        if isinstance(exc, RunError):
            exc.partial = finished
        trace.emit(ErrorEvent.of(exc))
        _log().warning("ask.failed", error=str(exc))
        return exc


def _usage_limit(usage: RunUsage, limits: UsageLimits) -> LimitExceeded:
    """Which usage limit stopped the run, read from the usage itself."""
    tokens = limits.total_tokens_limit
    if tokens is not None and usage.total_tokens > tokens:
        return LimitExceeded("max_tokens", f"{usage.total_tokens} tokens used; the limit is {tokens}")
    return LimitExceeded("max_requests", f"the ask needs more than {limits.request_limit} model requests")


def _describe(exc: BaseException) -> str:
    from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior

    if isinstance(exc, ModelAPIError):
        return f"model error ({type(exc).__name__}): {exc}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"unexpected model behaviour: {exc}"
    return f"{type(exc).__name__}: {exc}"
