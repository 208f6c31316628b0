"""crossroads as an MCP server (official `mcp` SDK 2.x, `MCPServer`): tools `ask`, `route`, `list_agents`.

The same server runs over stdio (`crossroads mcp`) and as streamable HTTP mounted at `/mcp` in the
HTTP service. Errors are raised as `ToolError` so the host sees why a call failed (other exceptions
are masked by the SDK). No MCP logging: logs go to stderr through structlog.

Over stdio, a message the SDK cannot parse used to get no reply at all, so the host waited forever:
the SDK's JSON parser refuses a lone surrogate (`"\udcff"`, valid JSON syntax but not valid Unicode),
hands the parse error to the server loop, and the loop drops it (it has no request id to answer).
`run_stdio` sits between the transport and the server loop and answers such a request itself: a
`tools/call` gets a tool error (`is_error`, like any bad input), any other request a JSON-RPC error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types
import structlog
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from crossroads.errors import CrossroadsError, RunError
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, ResultSummary, RouteDecision
from crossroads.server.models import AgentList
from crossroads.text.validity import find_bad_text

log = structlog.get_logger("crossroads.mcp")

INSTRUCTIONS = (
    "Ask technical questions (software, cloud, data/AI, security, languages). crossroads routes "
    "each question to specialist agents, which may run sandboxed tools and hand off to each other."
)


class AskOutput(ResultSummary):
    """The answer and how it was produced; the full trace is `GET /v1/traces/{trace_id}` or `crossroads trace`."""

    answer: str

    @classmethod
    def of(cls, result: AskResult) -> AskOutput:
        return cls(answer=result.answer, **result.summary().model_dump())


def build_mcp(orchestrator: Callable[[], Orchestrator], version: str = "0.1.0") -> MCPServer:
    """An MCP server over the orchestrator returned by `orchestrator()` (resolved at call time)."""
    from crossroads.server.native import agent_infos

    server: MCPServer = MCPServer("crossroads", instructions=INSTRUCTIONS, version=version)

    @server.tool()
    async def ask(question: str, agent: str | None = None, conversation_id: str | None = None) -> AskOutput:
        """Answer a technical question with the right specialist agents.

        Args:
            question: The question, in plain language.
            agent: Optional specialist name (see list_agents) to ask directly, bypassing routing.
            conversation_id: Optional id of a conversation to continue (any new id starts one): the
                question is then a follow-up of its earlier turns, and is added to it with its answer.
        """
        _check_text(question=question, agent=agent)
        try:
            return AskOutput.of(await orchestrator().ask(question, agent=agent, conversation=conversation_id))
        except RunError as exc:
            trace = f" (trace {exc.partial.trace_id})" if exc.partial is not None else ""
            raise ToolError(f"{exc}{trace}") from exc
        except CrossroadsError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def route(question: str) -> RouteDecision:
        """Show which specialists would answer a question, with confidences, without asking them.

        Args:
            question: The question to route.
        """
        _check_text(question=question)
        try:
            return await orchestrator().route(question)
        except CrossroadsError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def list_agents() -> AgentList:
        """List the specialist agents: name, description, tools and who each may hand off to."""
        return AgentList(agents=agent_infos(orchestrator()))

    return server


def _check_text(**arguments: str | None) -> None:
    """A tool error for text that is not valid Unicode (e.g. from a transport that let it through)."""
    found = find_bad_text({k: v for k, v in arguments.items() if v is not None})
    if found is not None:
        raise ToolError(found.describe())


def reply_to_unparsable(error: Exception) -> mcp_types.JSONRPCMessage | None:
    """The reply to a line the SDK could not parse, when it is a request whose id can still be read.

    Python's own JSON decoder accepts lone surrogates, so the id and method are recovered from the raw
    line kept in the pydantic error. Returns None for notifications and for lines with no readable id
    (nothing can be answered; the SDK drops them as before).
    """
    if not isinstance(error, ValidationError):
        return None
    raw = next((e.get("input") for e in error.errors() if isinstance(e.get("input"), str | bytes)), None)
    try:
        message: Any = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("id"), str | int) or "method" not in message:
        return None
    found = find_bad_text(message.get("params"), "params")
    why = found.describe() if found else "the request could not be parsed"
    if message["method"] == "tools/call":
        result = mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=why)], is_error=True)
        payload = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return mcp_types.JSONRPCResponse(jsonrpc="2.0", id=message["id"], result=payload)
    code = mcp_types.INVALID_PARAMS if found else mcp_types.PARSE_ERROR
    error_data = mcp_types.ErrorData(code=code, message=why)
    return mcp_types.JSONRPCError(jsonrpc="2.0", id=message["id"], error=error_data)


async def run_stdio(server: MCPServer) -> None:
    """`server.run_stdio_async()`, except that requests the SDK cannot parse get a reply (see above)."""
    lowlevel = getattr(server, "_lowlevel_server", None)
    if lowlevel is None:  # a future SDK without it: serve without the screen rather than not at all
        await server.run_stdio_async()
        return
    async with stdio_server() as (read_stream, write_stream):
        screened_send, screened_read = create_context_streams[SessionMessage | Exception](0)

        async def screen() -> None:
            async with screened_send:
                async for item in read_stream:
                    reply = reply_to_unparsable(item) if isinstance(item, Exception) else None
                    if reply is None:
                        await screened_send.send(item)
                    else:
                        log.warning("mcp.unparsable_request", reply=type(reply).__name__)
                        await write_stream.send(SessionMessage(reply))

        async with anyio.create_task_group() as tg:
            tg.start_soon(screen)
            await lowlevel.run(screened_read, write_stream, lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()
