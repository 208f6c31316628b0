"""One ask from question to result: route, run the specialists, synthesise, store, announce.

The `Orchestrator` owns the team's parts; a `Pipeline` runs asks over them (`Orchestrator.ask` and
`stream` call it). Kept apart so the orchestrator module reads as construction and public API, and
this one as the data flow of an ask: decide the route (with a conversation's context), run the routed
specialists concurrently, merge their answers, fill the `AskResult` from the trace, store it, and
emit `done` or `error`. Failures keep the partial result; a cancelled ask is stored as cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossroads.conversation import (
    Conversation,
    History,
    Turn,
    bound_history,
    check_id,
    history_instructions,
    route_follow_up,
    with_context,
    word_count,
)
from crossroads.errors import CrossroadsError, InputError, LimitExceeded, ProviderError, RunError
from crossroads.events import Done, ErrorEvent, RouteDecided, SpecialistFinished, SpecialistStarted, SynthesisStarted
from crossroads.graph import ROUTER
from crossroads.redact import redact
from crossroads.result import AskResult, HistoryWindow, RouteDecision, RouteTarget, SpecialistAnswer, Usage
from crossroads.trace import Trace, ambient

if TYPE_CHECKING:
    from pydantic_ai.usage import RunUsage, UsageLimits

    from crossroads.agents.team import RunDeps
    from crossroads.orchestrator import Orchestrator
    from crossroads.streaming import AnswerStream


def _log() -> Any:
    """The pipeline's logger; structlog is imported on first use (routing a question never pays for it)."""
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


class Pipeline:
    """Runs asks over one orchestrator's parts; holds no state of its own between asks."""

    def __init__(self, orch: Orchestrator) -> None:
        self.orch = orch

    async def load_context(
        self,
        conversation: str | Conversation | None,
        instructions: str | None,
        model_settings: Mapping[str, Any] | None,
    ) -> AskContext:
        """Load the conversation (by id) and bound its history; an unusable one is an `InputError`."""
        store_id = None
        if isinstance(conversation, str):
            store_id = check_id(conversation)
            history = await self.orch.conversations.aget_conversation(store_id) or Conversation(id=store_id)
        elif isinstance(conversation, Conversation):
            history = conversation
        elif conversation is None:
            history = Conversation()
        else:
            raise InputError("conversation: a conversation id or a Conversation")
        if len(history.turns) + 2 > self.orch.rules.max_turns:
            raise InputError(
                f"the conversation has {len(history.turns)} turns; the limit is {self.orch.rules.max_turns}"
                " (conversation.max_turns): start a new one"
            )
        caller = bool(instructions and instructions.strip())
        bounded = bound_history(history, self.orch.rules, stored=store_id is not None, instructions=caller)
        bounded = bounded if history.exchanges() else None
        return AskContext(
            conversation=history,
            store_id=store_id,
            history=bounded,
            instructions=history_instructions(bounded, instructions),
            caller_instructions=caller,
            model_settings=dict(model_settings) if model_settings else None,
            budget_tokens=self.orch.rules.history_tokens,
        )

    async def _decide(self, question: str, agent: str | None, context: AskContext) -> RouteDecision:
        if agent is not None:
            target = RouteTarget(agent=self.orch._agent_id(agent), confidence=1.0, sub_question=question)
            return RouteDecision(targets=[target], stage="fixed", reason="agent chosen by the caller")
        previous = context.conversation.previous()
        if previous is None:
            return await self.orch.router.route(question)
        asked, answered = previous
        agents = list((answered.agents if answered is not None else []) or asked.agents)
        if not agents and asked.trace_id is None and asked.content.strip():
            # History the caller sent (OpenAI messages) does not say who answered it: route it again.
            limit = self.orch.settings.limits.max_question_chars
            agents = (await self.orch.router.route(asked.content[:limit])).agents
        alone = await self.orch.router.route(question)
        in_context = None
        if agents and word_count(question) > self.orch.rules.short_follow_up_words and asked.content.strip():
            limit = self.orch.settings.limits.max_question_chars
            in_context = await self.orch.router.route(with_context(asked.content, question)[-limit:])
        return route_follow_up(question, agents, alone, in_context, self.orch.rules)

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
            await self.orch.conversations.aappend_turns(context.store_id, turns)
        except Exception as exc:  # the answer is not lost to a storage failure; the follow-up lacks this turn
            _log().error(
                "conversation.store_failed", conversation=context.store_id, error=f"{type(exc).__name__}: {exc}"
            )

    async def run(
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
        bounds = self.orch.settings.limits
        limits = UsageLimits(request_limit=bounds.max_requests, total_tokens_limit=bounds.max_tokens)
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
            async with asyncio.timeout(self.orch.settings.timeout):
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
            exc = LimitExceeded("timeout", f"the ask took longer than {self.orch.settings.timeout:g} s")
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
                self.orch.team,
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
        answer = await self.orch.team.run_specialist(target.agent, target.sub_question, deps, usage, limits)
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

        outputs = [SpecialistOutput(a.agent, self.orch.cards[a.agent].display_name, a.answer) for a in answers]
        deps = RunDeps(
            agent="synthesizer",
            trace=trace,
            team=self.orch.team,
            question=question,
            visited=[ROUTER],
            answer=answer,
            history=history_messages(context.history.exchanges) if context.history else [],
            instructions=context.instructions,
            model_settings=context.model_settings,
        )
        trace.emit(SynthesisStarted(agents=[a.agent for a in answers]))
        try:
            return await self.orch.team.synthesize(question, outputs, deps, usage, limits)
        except (CrossroadsError, UsageLimitExceeded):
            raise
        except Exception as exc:
            raise ProviderError(f"the synthesis failed: {_describe(exc)}") from exc

    def _out_of_scope_answer(self) -> str:
        listing = "\n".join(f"- {c.display_name} (`{n}`): {c.description}" for n, c in sorted(self.orch.cards.items()))
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
        if self.orch.trace_store is not None:
            try:
                self.orch.trace_store.submit(result)
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
