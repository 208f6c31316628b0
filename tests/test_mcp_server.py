"""The MCP server, called with the `mcp` SDK's client: over stdio (`crossroads mcp`) and streamable HTTP."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent
from server_support import API_KEY, running_service, server_settings

from crossroads.store import TraceStore

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How do I profile a slow Python loop and speed it up?"


def _text(result: CallToolResult) -> str:
    """The text of a tool result's first content block (the error message of a failed call)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


async def _exercise(target: Any) -> str:
    """List and call every tool; returns the trace id of the ask."""
    async with Client(target) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"ask", "route", "list_agents"}
        assert tools["ask"].input_schema["required"] == ["question"]
        output_schema = tools["ask"].output_schema
        assert output_schema is not None and "answer" in output_schema["properties"]

        asked = await client.call_tool("ask", {"question": QUESTION})
        assert not asked.is_error
        answer = asked.structured_content
        assert answer["answer"] and answer["status"] == "ok" and answer["route"]
        assert answer["handoff_path"][0] == "router"

        first = await client.call_tool("ask", {"question": QUESTION, "conversation_id": "mcp-1"})
        follow = await client.call_tool("ask", {"question": "and is that safe?", "conversation_id": "mcp-1"})
        assert first.structured_content["conversation_id"] == "mcp-1"
        assert follow.structured_content["stage"] == "conversation"
        assert follow.structured_content["route"] == first.structured_content["route"]

        direct = await client.call_tool("ask", {"question": QUESTION, "agent": "data-ai"})
        assert direct.structured_content["route"] == ["data-ai"]

        routed = await client.call_tool("route", {"question": QUESTION})
        assert not routed.is_error and routed.structured_content["targets"][0]["agent"] == answer["route"][0]

        agents = await client.call_tool("list_agents", {})
        names = {a["name"] for a in agents.structured_content["agents"]}
        assert "data-ai" in names and len(names) >= 5

        empty = await client.call_tool("ask", {"question": "  "})
        assert empty.is_error and "empty" in _text(empty)
        unknown = await client.call_tool("ask", {"question": QUESTION, "agent": "nobody"})
        assert unknown.is_error and "unknown agent" in _text(unknown)
        return str(answer["trace_id"])


@pytest.mark.anyio
async def test_stdio_server_answers_and_stores_the_trace(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from crossroads.cli import main; main()", "mcp", "--trace-db", str(db)],
        env={**os.environ, "CROSSROADS_CONFIG": str(ROOT / "crossroads/config/defaults.toml")},
        cwd=str(ROOT),
    )
    trace_id = await _exercise(params)
    store = TraceStore(db)  # the subprocess flushed its store when it exited
    try:
        stored = store.get(trace_id)
    finally:
        store.close()
    assert stored is not None and stored.question == QUESTION


@pytest.mark.anyio
async def test_streamable_http_mounted_in_the_service(tmp_path: Path) -> None:
    from conftest import FakeToolbox

    with running_service(server_settings(tmp_path), FakeToolbox()) as (url, orchestrator):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as http:
            trace_id = await _exercise(streamable_http_client(f"{url}/mcp/", http_client=http))
        assert orchestrator.trace_store is not None
        await orchestrator.trace_store.aflush()
        assert orchestrator.trace_store.get(trace_id) is not None
