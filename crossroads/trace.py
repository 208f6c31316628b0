"""The trace of one ask: every routing decision, handoff, tool call and model request, as it happens.

Specialist agents carry a capability (`crossroads.agents.tracing`) that writes into the `Trace` found on
their run deps, so the trace is complete even when a run fails half-way (the partial trace travels with
the error). Listeners (the stream, the CLI's progress display) receive each event as it is recorded.
This module imports nothing of the LLM stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crossroads.events import HandoffMade, ModelRequested, StreamEvent, ToolReturned
from crossroads.result import HandoffRecord, ModelAttempt, ModelRequestRecord, ToolCallRecord

if TYPE_CHECKING:
    from pydantic_ai import RunContext

Listener = Callable[[StreamEvent], None]


@dataclass
class Trace:
    """Mutable record of one ask, shared by the concurrent specialist runs (one event loop, no locks).

    Every step is an event (`crossroads.events`): `emit` stamps the trace id and hands it to every
    listener; the `add_*` methods also keep the record for the `AskResult`.
    """

    trace_id: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    model_requests: list[ModelRequestRecord] = field(default_factory=list)
    handoffs: list[HandoffRecord] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    """`time.perf_counter()` when the ask started: records get `started_ms` relative to it."""

    def emit(self, event: StreamEvent) -> None:
        event.trace_id = self.trace_id
        for listener in self.listeners:
            listener(event)

    def _offset_ms(self, duration_ms: float = 0.0) -> float:
        """Ms after the ask started of something that took `duration_ms` and finished now."""
        return round(max(0.0, (time.perf_counter() - self.started) * 1000 - duration_ms), 3)

    def add_tool_call(self, record: ToolCallRecord) -> None:
        if record.started_ms is None:
            record.started_ms = self._offset_ms(record.duration_ms)
        self.tool_calls.append(record)
        self.emit(ToolReturned(record=record))

    def add_model_request(self, record: ModelRequestRecord) -> None:
        if record.started_ms is None:
            record.started_ms = self._offset_ms(record.duration_ms)
        self.model_requests.append(record)
        self.emit(ModelRequested(record=record))

    def add_handoff(self, record: HandoffRecord) -> None:
        if record.started_ms is None:
            record.started_ms = self._offset_ms()
        self.handoffs.append(record)
        self.emit(HandoffMade(record=record))


class TracedDeps(Protocol):
    """What the trace hooks and the retry capability need from a run's deps."""

    agent: str
    trace: Trace
    pending_attempts: list[ModelAttempt]
    """Failed tries of the request under way, attached to its record when it finally succeeds or fails."""


@dataclass
class AmbientDeps:
    """Stands in for run deps when an agent runs without them (the LLM router): see `traced`."""

    agent: str
    trace: Trace
    pending_attempts: list[ModelAttempt] = field(default_factory=list)


_ambient: ContextVar[AmbientDeps | None] = ContextVar("crossroads_ambient_deps", default=None)


@contextmanager
def ambient(agent: str, trace: Trace) -> Generator[None]:
    """Trace agents that run without crossroads deps (the LLM router) into `trace` as `agent`."""
    token = _ambient.set(AmbientDeps(agent=agent, trace=trace))
    try:
        yield
    finally:
        _ambient.reset(token)


def traced(ctx: RunContext[Any]) -> TracedDeps | None:
    """The deps a hook records into: the run's own when they carry a trace, else the ambient ones."""
    if getattr(ctx.deps, "trace", None) is not None:
        return ctx.deps
    return _ambient.get()
