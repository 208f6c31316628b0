"""The events of one ask, in the order they happen: the one channel from the trace to every shell.

The pipeline records each step with `Trace.emit(event)`; the trace stamps the ask's `trace_id` and hands
the event to its listeners (the stream, the CLI's progress display). They are pydantic models with a
`type` discriminator, so the HTTP server sends each one as a server-sent event (`event: <type>`,
`data: <model_dump_json()>`) and a client parses it back with `StreamEventAdapter.validate_json(data)`.
A stream always ends with exactly one `done` or `error` event.

Typical order for a two-specialist question (the synthesiser's text streams as it is written; its
request's record follows when the stream ends):

    route -> specialist_started (x2) -> [tool_called -> tool_returned | handoff | model_request]* ->
    specialist_finished (x2) -> synthesis_started -> text_delta* -> model_request -> done

and for one specialist, whose own text is the answer:

    route -> specialist_started -> [tool_called -> tool_returned | handoff | model_request]* ->
    text_delta* -> model_request -> specialist_finished -> done
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from crossroads.errors import RUN_ERRORS, CrossroadsError, Limit, LimitExceeded, RunError
from crossroads.result import AskResult, HandoffRecord, ModelRequestRecord, RouteDecision, ToolCallRecord


class _Event(BaseModel):
    trace_id: str = ""
    """The ask this event belongs to (also `AskResult.trace_id`); stamped by `Trace.emit`."""


class RouteDecided(_Event):
    """The router chose the specialists (or abstained: `decision.abstain`)."""

    type: Literal["route"] = "route"
    decision: RouteDecision


class SpecialistStarted(_Event):
    """A specialist chosen by the router started on its part of the question."""

    type: Literal["specialist_started"] = "specialist_started"
    agent: str
    question: str


class ToolCalled(_Event):
    """A specialist called a tool (`run_python`, `check_math`, `run_sql`); its result follows."""

    type: Literal["tool_called"] = "tool_called"
    agent: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolReturned(_Event):
    """A tool call finished; `record.ok` is False when it failed."""

    type: Literal["tool_returned"] = "tool_returned"
    record: ToolCallRecord


class HandoffMade(_Event):
    """A specialist handed part of the question to a neighbour (or was refused: `record.accepted`)."""

    type: Literal["handoff"] = "handoff"
    record: HandoffRecord


class ModelRequested(_Event):
    """One model request finished (tokens, retries and fallbacks in `record.attempts`)."""

    type: Literal["model_request"] = "model_request"
    record: ModelRequestRecord


class SpecialistFinished(_Event):
    """A routed specialist finished its part (handoffs included)."""

    type: Literal["specialist_finished"] = "specialist_finished"
    agent: str


class SynthesisStarted(_Event):
    """Several specialists answered; their answers are being merged into one."""

    type: Literal["synthesis_started"] = "synthesis_started"
    agents: list[str]


class TextDelta(_Event):
    """A piece of the final answer, as the model wrote it.

    Concatenated in order, the deltas equal `done.result.answer` (or, on `error`, `partial.answer`:
    what was sent before the failure).
    """

    type: Literal["text_delta"] = "text_delta"
    delta: str


class Done(_Event):
    """The ask finished; `result` is what `Orchestrator.ask()` would have returned."""

    type: Literal["done"] = "done"
    result: AskResult


class ErrorEvent(_Event):
    """The ask failed.

    `kind` is the error class (`LimitExceeded`, `ProviderError`, ...), `limit` names the limit for
    `LimitExceeded`, `partial` is the result gathered before the failure.
    """

    type: Literal["error"] = "error"
    kind: str
    message: str
    limit: Limit | None = None
    partial: AskResult | None = None

    @classmethod
    def of(cls, exc: BaseException) -> ErrorEvent:
        """The event for an exception that ended an ask (a bug is reported by its class name)."""
        return cls(
            kind=type(exc).__name__,
            message=str(exc),
            limit=exc.limit if isinstance(exc, LimitExceeded) else None,
            partial=exc.partial if isinstance(exc, RunError) else None,
        )

    def to_error(self) -> CrossroadsError:
        """The exception this event reports, rebuilt; anything but a run error becomes a `CrossroadsError`."""
        if self.kind == LimitExceeded.__name__ and self.limit is not None:
            detail = self.message.removeprefix(f"limit '{self.limit}' exceeded: ")
            return LimitExceeded(self.limit, detail, partial=self.partial)
        cls = RUN_ERRORS.get(self.kind)
        return cls(self.message, partial=self.partial) if cls is not None else CrossroadsError(self.message)


StreamEvent = Annotated[
    RouteDecided
    | SpecialistStarted
    | ToolCalled
    | ToolReturned
    | HandoffMade
    | ModelRequested
    | SpecialistFinished
    | SynthesisStarted
    | TextDelta
    | Done
    | ErrorEvent,
    Field(discriminator="type"),
]
StreamEventAdapter: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
