"""The trace of one ask: every handoff, tool call and model request, recorded as it happens.

Specialist agents carry a `TraceHooks` capability that writes into the `Trace` found on their run deps,
so the trace is complete even when a run fails half-way (the partial trace travels with the error).
Subscribers (streaming, progress display) receive each event as it is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_ai import RunContext
from pydantic_ai.capabilities.hooks import Hooks
from pydantic_ai.messages import ModelResponse, ToolCallPart

from crossroads.redact import redact
from crossroads.result import HandoffRecord, ModelRequestRecord, ToolCallRecord

Listener = Callable[[str, Any], None]


@dataclass
class Trace:
    """Mutable record of one ask, shared by the concurrent specialist runs (one event loop, no locks)."""

    trace_id: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    model_requests: list[ModelRequestRecord] = field(default_factory=list)
    handoffs: list[HandoffRecord] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)

    def emit(self, kind: str, payload: Any) -> None:
        for listener in self.listeners:
            listener(kind, payload)

    def add_tool_call(self, record: ToolCallRecord) -> None:
        self.tool_calls.append(record)
        self.emit("tool_returned", record)

    def add_model_request(self, record: ModelRequestRecord) -> None:
        self.model_requests.append(record)
        self.emit("model_request", record)

    def add_handoff(self, record: HandoffRecord) -> None:
        self.handoffs.append(record)
        self.emit("handoff", record)


@dataclass
class AmbientDeps:
    """Stands in for run deps when an agent runs without them (the LLM router): see `traced`."""

    agent: str
    trace: Trace
    pending_attempts: list[Any] = field(default_factory=list)


_ambient: ContextVar[AmbientDeps | None] = ContextVar("crossroads_ambient_deps", default=None)


@contextmanager
def ambient(agent: str, trace: Trace) -> Iterator[None]:
    """Trace agents that run without crossroads deps (the LLM router) into `trace` as `agent`."""
    token = _ambient.set(AmbientDeps(agent=agent, trace=trace))
    try:
        yield
    finally:
        _ambient.reset(token)


def traced(ctx: RunContext[Any]) -> Any:
    """The deps a hook records into: the run's own when they carry a trace, else the ambient ones."""
    if getattr(ctx.deps, "trace", None) is not None:
        return ctx.deps
    return _ambient.get()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def trace_hooks() -> Hooks[Any]:
    """A capability recording model requests and tool calls into `ctx.deps.trace`. Stateless: shareable."""
    hooks: Hooks[Any] = Hooks()

    @hooks.on.model_request
    async def record_request(ctx: RunContext[Any], *, request_context: Any, handler: Any) -> ModelResponse:
        deps = traced(ctx)
        if deps is None:  # an agent outside any ask (e.g. `crossroads route` with an LLM router)
            return await handler(request_context)
        t0 = time.perf_counter()
        try:
            response: ModelResponse = await handler(request_context)
        except Exception as exc:  # every retry and fallback failed: keep the attempts in the trace
            if deps.pending_attempts:
                deps.trace.add_model_request(
                    ModelRequestRecord(
                        agent=deps.agent,
                        model=request_context.model.model_name,
                        attempts=list(deps.pending_attempts),
                        error=redact(f"{type(exc).__name__}: {str(exc)[:4000]}")[:300],
                        duration_ms=round((time.perf_counter() - t0) * 1000, 3),
                    )
                )
                deps.pending_attempts.clear()
            raise
        usage = response.usage
        deps.trace.add_model_request(
            ModelRequestRecord(
                agent=deps.agent,
                model=response.model_name or "unknown",
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                duration_ms=round((time.perf_counter() - t0) * 1000, 3),
                attempts=list(deps.pending_attempts),
            )
        )
        deps.pending_attempts.clear()
        return response

    @hooks.on.tool_execute
    async def record_tool(ctx: RunContext[Any], *, call: ToolCallPart, tool_def: Any, args: Any, handler: Any) -> Any:
        if call.tool_name == "handoff":  # handoffs are traced as HandoffRecords by the team
            return await handler(args)
        arguments = args if isinstance(args, dict) else call.args_as_dict()
        ctx.deps.trace.emit("tool_called", {"agent": ctx.deps.agent, "name": call.tool_name, "arguments": arguments})
        t0 = time.perf_counter()
        try:
            result = await handler(args)
        except Exception as exc:
            ctx.deps.trace.add_tool_call(
                ToolCallRecord(
                    agent=ctx.deps.agent,
                    name=call.tool_name,
                    arguments=dict(arguments),
                    result={"error": f"{type(exc).__name__}: {exc}"},
                    ok=False,
                    duration_ms=round((time.perf_counter() - t0) * 1000, 3),
                )
            )
            raise
        payload = _jsonable(result)
        ok = bool(payload.get("ok", payload.get("verified") is not None)) if isinstance(payload, dict) else True
        ctx.deps.trace.add_tool_call(
            ToolCallRecord(
                agent=ctx.deps.agent,
                name=call.tool_name,
                arguments=dict(arguments),
                result=payload,
                ok=ok,
                duration_ms=round((time.perf_counter() - t0) * 1000, 3),
            )
        )
        return result

    return hooks
