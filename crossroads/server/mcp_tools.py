"""crossroads as an MCP server (official `mcp` SDK 2.x, `MCPServer`): tools `ask`, `route`, `list_agents`.

The same server runs over stdio (`crossroads mcp`) and as streamable HTTP mounted at `/mcp` in the
HTTP service. Errors are raised as `ToolError` so the host sees why a call failed (other exceptions
are masked by the SDK). No MCP logging: logs go to stderr through structlog.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from crossroads.errors import CrossroadsError, RunError
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, ResultSummary, RouteDecision
from crossroads.server.models import AgentList

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
        try:
            return await orchestrator().route(question)
        except CrossroadsError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def list_agents() -> AgentList:
        """List the specialist agents: name, description, tools and who each may hand off to."""
        return AgentList(agents=agent_infos(orchestrator()))

    return server
