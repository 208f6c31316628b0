"""MCP servers as a specialist's tools: the `mcpServers` of its card, through pydantic-ai's `MCPToolset`.

Each server a card declares becomes one toolset on that card's agent, its tools named Claude Code's way
(`mcp__<server>__<tool>`) and filtered by the card's `tools` / `disallowedTools`. Their calls go through
the same `tool_execute` hook as crossroads' own tools, so the trace records them alike.

Lifetime: a server starts the first time a specialist that uses it runs (starting `npx` or `node` costs
about a second, so never per ask), is shared by every card that names the same definition, and stops in
`McpServers.aclose()`, which the orchestrator's `aclose()` calls. A start is bounded by
`mcp.start_timeout`, a call by `mcp.call_timeout`; a server that cannot start is a `RunError` naming the
card and the server, and the ask goes on without that specialist (the branch reports the error).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from crossroads.cards import AgentCard, McpServer, mcp_tool_allowed
from crossroads.config import McpSettings
from crossroads.errors import ConfigError, RunError

if TYPE_CHECKING:
    from pydantic_ai import RunContext
    from pydantic_ai.mcp import CallToolFunc, MCPToolset
    from pydantic_ai.tools import ToolDefinition
    from pydantic_ai.toolsets import AbstractToolset


def _log() -> Any:
    import structlog

    return structlog.get_logger("crossroads.mcp")


def _import_mcp() -> Any:
    """`pydantic_ai.mcp`, or a `ConfigError` saying which extra provides it."""
    try:
        import pydantic_ai.mcp as mcp
    except ImportError as exc:
        raise ConfigError(f"cards with mcpServers need the MCP client: pip install 'crossroads[mcp]' ({exc})") from None
    return mcp


@dataclass
class ServerState:
    """One running (or not yet started) server, shared by the cards that declare the same definition."""

    server: McpServer
    cards: list[str] = field(default_factory=list)
    toolset: MCPToolset[Any] | None = None
    tools: list[str] = field(default_factory=list)
    """The server's tool names (unprefixed), known once it started."""
    start_ms: float | None = None


class McpServers:
    """The MCP servers of a team: toolsets built from the cards, started on first use, closed with the team."""

    def __init__(self, cards: Mapping[str, AgentCard], settings: McpSettings) -> None:
        self.settings = settings
        self._states: dict[str, ServerState] = {}
        self._by_card: dict[str, list[ServerState]] = {}
        for name, card in cards.items():
            for server in card.mcp_servers:
                key = server.model_dump_json(exclude={"origin"})
                state = self._states.setdefault(key, ServerState(server=server))
                state.cards.append(name)
                self._by_card.setdefault(name, []).append(state)
        self._stack = AsyncExitStack()
        self._lock: anyio.Lock | None = None

    def __bool__(self) -> bool:
        return bool(self._states)

    def servers_of(self, card: str) -> list[ServerState]:
        return list(self._by_card.get(card, []))

    def toolsets(self, card: AgentCard) -> list[AbstractToolset[Any]]:
        """The card's toolsets: one per server, prefixed `mcp__<server>__` and filtered by its `tools`."""
        toolsets: list[AbstractToolset[Any]] = []
        for state in self._by_card.get(card.name, []):
            toolset = self._toolset(state)

            def allowed(_ctx: RunContext[Any], tool: ToolDefinition, card: AgentCard = card) -> bool:
                return mcp_tool_allowed(tool.name, card.mcp_tools, card.mcp_denied)

            toolsets.append(toolset.prefixed(state.server.tool_prefix.removesuffix("_")).filtered(allowed))
        return toolsets

    def _toolset(self, state: ServerState) -> MCPToolset[Any]:
        """The server's `MCPToolset`, built once (not connected: `start` connects it)."""
        if state.toolset is None:
            mcp = _import_mcp()
            state.toolset = toolset = mcp.MCPToolset(
                _transport(state.server),
                id=state.server.tool_prefix.strip("_"),
                init_timeout=self.settings.start_timeout,
                tool_error_behavior="failed",  # a server's error is a failed tool the model sees, not a crash
                process_tool_call=self._call_with_timeout,
            )
            return toolset
        return state.toolset

    async def _call_with_timeout(
        self, ctx: RunContext[Any], call_tool: CallToolFunc, name: str, args: dict[str, Any]
    ) -> Any:
        from pydantic_ai import ToolFailed

        try:
            with anyio.fail_after(self.settings.call_timeout):
                return await call_tool(name, args)
        except TimeoutError:
            raise ToolFailed(f"MCP tool '{name}' did not answer within {self.settings.call_timeout:g} s") from None

    async def start(self, card: str) -> None:
        """Start every server of `card` that is not running yet. Raises `RunError` naming card and server."""
        for state in self._by_card.get(card, []):
            if state.start_ms is None:
                await self.start_server(card, state)

    async def start_server(self, card: str, state: ServerState) -> None:
        """Start one server (once: concurrent callers wait for the first). Raises `RunError` naming both."""
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if state.start_ms is None:
                await self._start(card, state)

    async def _start(self, card: str, state: ServerState) -> None:
        server = state.server
        where = f"card '{card}': MCP server '{server.name}' ({server.describe()}, defined in {server.origin})"
        missing = server.missing_variables()
        if missing:
            raise RunError(f"{where} cannot start: environment variable(s) {', '.join(missing)} not set")
        if server.transport == "stdio" and server.command and shutil.which(server.expanded().command or "") is None:
            raise RunError(f"{where} cannot start: command '{server.expanded().command}' not found on PATH")
        toolset = self._toolset(state)
        t0 = time.perf_counter()
        stack = AsyncExitStack()
        try:
            with anyio.fail_after(self.settings.start_timeout):
                await stack.enter_async_context(toolset)
                tools = await toolset.list_tools()
        except TimeoutError:
            await _quiet_close(stack)
            raise RunError(
                f"{where} did not start within {self.settings.start_timeout:g} s (mcp.start_timeout)"
            ) from None
        except Exception as exc:
            await _quiet_close(stack)
            raise RunError(f"{where} could not start: {type(exc).__name__}: {_first_line(exc)}") from None
        self._stack.push_async_exit(stack)
        state.tools = [t.name for t in tools]
        state.start_ms = round((time.perf_counter() - t0) * 1000, 1)
        _log().info("mcp.started", server=server.name, cards=state.cards, tools=len(tools), ms=state.start_ms)

    async def aclose(self) -> None:
        """Stop every server that was started (their processes end, their sessions close)."""
        stack, self._stack = self._stack, AsyncExitStack()
        try:
            await stack.aclose()
        finally:
            for state in self._states.values():
                state.tools, state.start_ms = [], None


def _transport(server: McpServer) -> Any:
    """The FastMCP transport of a server, its `${VAR}`s expanded now (when the agents are built).

    A server with an unset variable gets a transport that never connects: `_start` refuses it first,
    naming the variable.
    """
    from fastmcp.client.transports import SSETransport, StdioTransport, StreamableHttpTransport

    if server.missing_variables():
        server = server.model_copy(update={"command": "false", "args": (), "url": "http://127.0.0.1:9/"})
    else:
        server = server.expanded()
    if server.transport == "stdio":
        return StdioTransport(
            command=server.command or "",
            args=list(server.args),
            env=dict(server.env) or None,
            cwd=server.cwd,
            keep_alive=False,  # the process ends when the toolset closes: no server outlives crossroads
        )
    if server.transport == "sse":
        return SSETransport(server.url or "", headers=dict(server.headers) or None)
    return StreamableHttpTransport(server.url or "", headers=dict(server.headers) or None)


async def _quiet_close(stack: AsyncExitStack) -> None:
    try:
        await stack.aclose()
    except Exception:  # a half-started server: its start error is the one worth reporting
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    return text.splitlines()[0][:300]


async def probe(servers: McpServers, card: str) -> list[tuple[ServerState, str | None]]:
    """Start the servers of one card; each with its error, or None (`crossroads agents --check`)."""
    results: list[tuple[ServerState, str | None]] = []
    for state in servers.servers_of(card):
        try:
            await servers.start_server(card, state)
            results.append((state, None))
        except RunError as exc:
            results.append((state, str(exc)))
    return results
