"""The capability that records every model request and tool call of a pydantic-ai run into its `Trace`.

It finds the trace on the run's deps (`crossroads.trace.traced`: a specialist's own deps, or the ambient
deps of an agent that runs without them, like the LLM router). Stateless, so one instance serves every
agent of a team.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel
from pydantic_ai import RunContext
from pydantic_ai.capabilities.hooks import Hooks
from pydantic_ai.messages import ModelResponse, ToolCallPart

from crossroads.events import ToolCalled
from crossroads.redact import redact
from crossroads.result import ModelRequestRecord, ToolCallRecord
from crossroads.trace import traced

MCP_PREFIX = "mcp__"
"""MCP tools (`crossroads.agents.mcp`) are named `mcp__<server>__<tool>`."""


def _jsonable(value: Any) -> Any:
    """A tool result as JSON data for the trace.

    MCP servers may return anything (text, structured content, images): what JSON cannot hold is recorded
    by its type and size, never dropped silently.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        data = getattr(value, "data", None)
        if isinstance(data, bytes):
            return {"type": type(value).__name__, "media_type": getattr(value, "media_type", None), "bytes": len(data)}
        return {"type": type(value).__name__, "repr": repr(value)[:500]}
    return value


def _ok(name: str, payload: Any) -> bool:
    """Whether a tool that returned reported success.

    Our tools say so in their result; an MCP tool that returned succeeded (a failed one raises `ToolFailed`).
    """
    if name.startswith(MCP_PREFIX) or not isinstance(payload, dict):
        return True
    return bool(payload.get("ok", payload.get("verified") is not None))


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
        ctx.deps.trace.emit(ToolCalled(agent=ctx.deps.agent, name=call.tool_name, arguments=dict(arguments)))
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
        ok = _ok(call.tool_name, payload)
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
