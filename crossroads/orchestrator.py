"""The `Orchestrator`: request -> route -> specialists (with tools and handoffs) -> synthesis -> result.

It is the one object the CLI, the HTTP API and the MCP server wrap. It holds no global state and runs on
the caller's event loop; `ask_sync` is for scripts without one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx2
import structlog
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior, UsageLimitExceeded
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage, UsageLimits

from crossroads.agents.cards import AgentCard, load_cards
from crossroads.agents.prompting import SpecialistOutput
from crossroads.agents.team import RunDeps, Team, new_branch
from crossroads.config import Settings, load_settings
from crossroads.errors import CrossroadsError, InputError, LimitExceeded, ProviderError, RunError
from crossroads.events import StreamEvent
from crossroads.graph import ROUTER, HandoffGraph
from crossroads.logs import configure_logging
from crossroads.providers import ModelFactory
from crossroads.providers.resilience import Sleep
from crossroads.redact import redact
from crossroads.result import AskResult, RouteDecision, RouteTarget, SpecialistAnswer, Usage
from crossroads.router import Router
from crossroads.store import TraceStore
from crossroads.telemetry import build_telemetry
from crossroads.trace import Trace, ambient, trace_hooks

log = structlog.get_logger("crossroads")


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
        toolbox: Any = None,
        router: Router | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        retry_sleep: Sleep | None = None,
        trace_store: TraceStore | bool = False,
        model_wrapper: Callable[[Model, str], Model] | None = None,
        tracer_provider: Any = None,
    ) -> None:
        """Load cards and graph and build the team.

        `trace_store`: False (the library default) stores nothing; True opens the store at
        `settings.trace_db_path()` (unless that is `off`) and closes it in `aclose`; a `TraceStore`
        instance is used as given and only flushed in `aclose` (its owner closes it).
        `tracer_provider`: an OpenTelemetry provider to send spans to (else `settings.otel_endpoint`).
        """
        self.settings = settings or load_settings()
        if not structlog.is_configured():  # an embedding app that configured structlog keeps its setup
            configure_logging(self.settings.log_format, self.settings.log_level)
        self.cards: dict[str, AgentCard] = load_cards([*self.settings.cards, *cards_dirs])
        self.graph = HandoffGraph.build(self.cards, self.settings.graph)
        # `http_transport` replaces the network for every provider (tests, recording); `retry_sleep` the
        # wait between retries of a failed model request (tests pass one that returns at once).
        self.telemetry = build_telemetry(
            self.settings.otel_endpoint, tracer_provider, include_content=self.settings.otel_include_content
        )
        self.models = ModelFactory(
            self.settings,
            self.cards,
            self.graph,
            http_transport=http_transport,
            sleep=retry_sleep,
            model_wrapper=model_wrapper,
            extra_capabilities=self.telemetry.capabilities if self.telemetry else None,
        )
        if toolbox is None:
            from crossroads.tools import Toolbox

            toolbox = Toolbox(self.settings.sandbox)
        self.toolbox = toolbox
        self.router: Router = router or self._build_router()
        local = getattr(self.router, "local", None)
        if local is not None and hasattr(local, "scores"):  # offline specialists judge handoffs with it
            self.models.lean_scorer = local.scores
        self.team = Team(self.cards, self.graph, self.models, self.toolbox, max_hops=self.settings.limits.max_hops)
        self._runner: asyncio.Runner | None = None
        self._owns_store = trace_store is True
        self.trace_store: TraceStore | None = None
        if isinstance(trace_store, TraceStore):
            self.trace_store = trace_store
        elif trace_store is True and (db := self.settings.trace_db_path()) is not None:
            self.trace_store = TraceStore(db)

    def _build_router(self) -> Router:
        from crossroads.router import build_router

        return build_router(
            self.cards,
            self.settings.router,
            self.models.router(),
            llm_capabilities=[*self.models.capabilities("router"), trace_hooks()],
        )

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
        """`check_question`, and an `agent` that bypasses routing must be one of the specialists."""
        question = self.check_question(question)
        if agent is not None and agent not in self.cards:
            raise InputError(f"unknown agent '{agent}'; known: {', '.join(sorted(self.cards))}")
        return question

    async def route(self, question: str) -> RouteDecision:
        return await self.router.route(self.check_question(question))

    async def ask(self, question: str, *, agent: str | None = None) -> AskResult:
        """Answer one question. `agent` bypasses routing and asks that specialist directly.

        Raises `InputError` for unusable input, `LimitExceeded` when a per-ask limit is hit and
        `RunError` subclasses for other failures; run errors carry the partial result as `.partial`.
        """
        question = self.check_request(question, agent)
        trace = Trace(trace_id=uuid.uuid4().hex)
        with structlog.contextvars.bound_contextvars(trace_id=trace.trace_id):
            return await self._ask(question, agent, trace)

    def stream(self, question: str, *, agent: str | None = None) -> AsyncGenerator[StreamEvent, None]:
        """The events of one ask as they happen (`crossroads.events`), ending with `done` or `error`.

        ```python
        async for event in crossroads.stream("Is 2**10 = 1024?"):
            if event.type == "text_delta":
                print(event.delta, end="")
        ```

        Unusable input raises `InputError` on the first iteration; failures while answering arrive as an
        `error` event carrying the partial result. Leaving the loop early cancels the ask.
        """
        from crossroads.streaming import stream_ask

        return stream_ask(self, question, agent)

    def ask_sync(self, question: str, *, agent: str | None = None) -> AskResult:
        """`ask` for code without an event loop; reuses one private loop across calls."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self.ask(question, agent=agent))

    async def aclose(self) -> None:
        closer = getattr(self.toolbox, "aclose", None)
        if closer is not None:
            await closer()
        await self.models.aclose()
        if self.telemetry is not None:
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

    async def _ask(self, question: str, agent: str | None, trace: Trace) -> AskResult:
        if self.telemetry is None:
            return await self._pipeline(question, agent, trace)
        with self.telemetry.tracer.start_as_current_span("crossroads.ask") as span:
            span.set_attribute("crossroads.trace_id", trace.trace_id)
            result = await self._pipeline(question, agent, trace)
            span.set_attribute("crossroads.route", result.route.agents)
            span.set_attribute("crossroads.handoff_path", result.handoff_path)
            span.set_attribute("crossroads.status", result.status)
            return result

    async def _pipeline(self, question: str, agent: str | None, trace: Trace) -> AskResult:
        t0 = time.perf_counter()
        if agent is not None:
            decision = RouteDecision(
                targets=[RouteTarget(agent=agent, confidence=1.0, sub_question=question)],
                stage="fixed",
                reason="agent chosen by the caller",
            )
        else:
            with ambient("router", trace):  # the LLM router's requests and failed attempts join the trace
                decision = await self.router.route(question)
        trace.emit("route", decision)
        log.info("route", agents=decision.agents, stage=decision.stage, abstain=decision.abstain)
        result = AskResult(trace_id=trace.trace_id, question=question, answer="", route=decision)
        if decision.abstain or not decision.targets:
            result.status = "out_of_scope"
            result.answer = self._out_of_scope_answer()
            return self._finish(result, trace, [], t0)

        usage = RunUsage()
        limits = UsageLimits(
            request_limit=self.settings.limits.max_requests, total_tokens_limit=self.settings.limits.max_tokens
        )
        names = [t.agent for t in decision.targets]
        claimed = set(names)  # shared: no two branches bring in the same neighbour
        branches = [new_branch(t.agent, trace, self.team, question, names, claimed) for t in decision.targets]
        answers: list[SpecialistAnswer] = []
        try:
            async with asyncio.timeout(self.settings.timeout):
                outcomes = await asyncio.gather(
                    *(
                        self._run_branch(t, deps, usage, limits)
                        for t, deps in zip(decision.targets, branches, strict=True)
                    ),
                    return_exceptions=True,
                )
                for target, deps, outcome in zip(decision.targets, branches, outcomes, strict=True):
                    if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                        raise outcome
                    if isinstance(outcome, LimitExceeded | UsageLimitExceeded):
                        raise outcome
                    answers.append(
                        SpecialistAnswer(
                            agent=target.agent,
                            question=target.sub_question,
                            path=list(deps.visited),
                            answer="" if isinstance(outcome, Exception) else outcome,
                            error=redact(_describe(outcome)) if isinstance(outcome, Exception) else None,
                        )
                    )
                good = [a for a in answers if a.error is None]
                if not good:
                    raise ProviderError(
                        "every specialist failed: " + "; ".join(f"{a.agent}: {a.error}" for a in answers)
                    )
                result.answer = await self._synthesize(question, good, trace, usage, limits)
        except TimeoutError:
            raise self._failed(
                LimitExceeded("timeout", f"the ask took longer than {self.settings.timeout:g} s"),
                result,
                trace,
                answers,
                t0,
            ) from None
        except UsageLimitExceeded as exc:
            kind = "max_requests" if "request" in str(exc) else "max_tokens"
            raise self._failed(
                LimitExceeded(kind, str(exc).split(". Consider")[0]), result, trace, answers, t0
            ) from None
        except CrossroadsError as exc:
            raise self._failed(exc, result, trace, answers, t0) from None
        if any(a.error for a in answers):
            result.error = "; ".join(f"{a.agent}: {a.error}" for a in answers if a.error)
        return self._finish(result, trace, answers, t0)

    async def _run_branch(self, target: RouteTarget, deps: RunDeps, usage: RunUsage, limits: UsageLimits) -> str:
        trace = deps.trace
        trace.emit("specialist_started", {"agent": target.agent, "question": target.sub_question})
        answer = await self.team.run_specialist(target.agent, target.sub_question, deps, usage, limits)
        trace.emit("specialist_finished", {"agent": target.agent})
        return answer

    async def _synthesize(
        self, question: str, answers: list[SpecialistAnswer], trace: Trace, usage: RunUsage, limits: UsageLimits
    ) -> str:
        if len(answers) == 1:
            return answers[0].answer
        outputs = [SpecialistOutput(a.agent, self.cards[a.agent].display_name, a.answer) for a in answers]
        deps = RunDeps(agent="synthesizer", trace=trace, team=self.team, question=question, visited=[ROUTER])
        trace.emit("synthesis_started", {"agents": [a.agent for a in answers]})
        return await self.team.synthesize(question, outputs, deps, usage, limits)

    def _out_of_scope_answer(self) -> str:
        listing = "\n".join(f"- {c.display_name} (`{n}`): {c.description}" for n, c in sorted(self.cards.items()))
        return (
            "This question is outside what crossroads' specialists cover, so no specialist was asked."
            f" The specialists are:\n{listing}"
        )

    def _finish(self, result: AskResult, trace: Trace, answers: list[SpecialistAnswer], t0: float) -> AskResult:
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
        trace.emit("done", result)
        if self.trace_store is not None:
            self.trace_store.submit(result)
        log.info("answered", status=result.status, duration_ms=result.duration_ms, requests=usage.requests)
        return result

    def _failed(
        self, exc: CrossroadsError, result: AskResult, trace: Trace, answers: list[SpecialistAnswer], t0: float
    ) -> CrossroadsError:
        result.status = "error"
        result.error = redact(str(exc))
        if isinstance(exc, RunError):
            exc.partial = self._finish(result, trace, answers, t0)
        log.warning("ask.failed", error=str(exc))
        return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ModelAPIError):
        return f"model error ({type(exc).__name__}): {exc}"
    if isinstance(exc, UnexpectedModelBehavior):
        return f"unexpected model behaviour: {exc}"
    return f"{type(exc).__name__}: {exc}"
