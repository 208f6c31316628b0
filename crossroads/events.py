"""The events `Orchestrator.stream()` yields while it answers, in the order they happen.

They are pydantic models with a `type` discriminator, so the HTTP server can send each one as a
server-sent event (`event: <type>`, `data: <model_dump_json()>`) and a client can parse them back with
`StreamEventAdapter.validate_json(data)`. A stream always ends with exactly one `done` or `error` event.

Typical order for a two-specialist question:

    route -> specialist_started (x2) -> [tool_called -> tool_returned | handoff | model_request]* ->
    specialist_finished (x2) -> synthesis_started -> model_request -> text_delta* -> done
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from crossroads.result import AskResult, HandoffRecord, ModelRequestRecord, RouteDecision, ToolCallRecord


class _Event(BaseModel):
    trace_id: str
    """The ask this event belongs to (also `AskResult.trace_id`)."""


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
    """A piece of the final answer. Concatenated in order, the deltas equal `done.result.answer`."""

    type: Literal["text_delta"] = "text_delta"
    delta: str


class Done(_Event):
    """The ask finished; `result` is what `Orchestrator.ask()` would have returned."""

    type: Literal["done"] = "done"
    result: AskResult


class ErrorEvent(_Event):
    """The ask failed.

    `kind` is the error class (`LimitExceeded`, `ProviderError`, ...), `limit` names the limit for `LimitExceeded`,
    `partial` is the trace gathered before the failure.
    """

    type: Literal["error"] = "error"
    kind: str
    message: str
    limit: str | None = None
    partial: AskResult | None = None


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


def from_trace(kind: str, payload: Any, trace_id: str) -> StreamEvent | None:
    """The stream event for one `Trace.emit(kind, payload)`.

    None for kinds the stream does not expose (`done` is sent by the stream itself, after the answer's
    text deltas).
    """
    match kind:
        case "route":
            return RouteDecided(trace_id=trace_id, decision=payload)
        case "specialist_started":
            return SpecialistStarted(trace_id=trace_id, agent=payload["agent"], question=payload["question"])
        case "tool_called":
            return ToolCalled(
                trace_id=trace_id,
                agent=payload["agent"],
                name=payload["name"],
                arguments=dict(payload.get("arguments") or {}),
            )
        case "tool_returned":
            return ToolReturned(trace_id=trace_id, record=payload)
        case "handoff":
            return HandoffMade(trace_id=trace_id, record=payload)
        case "model_request":
            return ModelRequested(trace_id=trace_id, record=payload)
        case "specialist_finished":
            return SpecialistFinished(trace_id=trace_id, agent=payload["agent"])
        case "synthesis_started":
            return SynthesisStarted(trace_id=trace_id, agents=list(payload["agents"]))
    return None
