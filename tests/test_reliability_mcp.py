"""Issue 17.2 over MCP: a request with text that is not valid Unicode gets an error reply, never silence.

The host side is raw JSON-RPC lines on a real `crossroads mcp` subprocess, because the `mcp` SDK's own
client refuses to encode a lone surrogate; a JavaScript host sends one without complaint.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_support import DEFAULTS, ROOT, cli_command

from crossroads.server.mcp_tools import reply_to_unparsable


class RawHost:
    """Writes JSON-RPC lines to `crossroads mcp` and reads its replies, each under a deadline."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            cli_command("mcp", "--trace-db", "off"),
            env={**os.environ, "CROSSROADS_CONFIG": str(DEFAULTS)},
            cwd=str(ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 30) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no reply within {timeout} s (the host would wait forever)"
        return json.loads(self.proc.stdout.readline())

    def request(self, id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        return self.receive()


@pytest.fixture
def host() -> Iterator[RawHost]:
    host = RawHost()
    try:
        init = host.request(
            1,
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        assert init["id"] == 1 and "result" in init
        host.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        yield host
    finally:
        host.proc.terminate()
        host.proc.wait(timeout=20)
        for pipe in (host.proc.stdin, host.proc.stdout):
            if pipe is not None:
                pipe.close()


def test_stdio_tool_call_with_a_lone_surrogate_gets_a_tool_error(host: RawHost) -> None:
    for id, tool in ((2, "route"), (3, "ask")):
        host.send(
            '{"jsonrpc":"2.0","id":' + str(id) + ',"method":"tools/call","params":{"name":"' + tool + '",'
            '"arguments":{"question":"shard \\udcff postgres"}}}'
        )
        reply = host.receive()
        assert reply["id"] == id
        assert reply["result"]["isError"] is True
        text = reply["result"]["content"][0]["text"]
        assert "params.arguments.question" in text and "not valid Unicode" in text
    # the server is still serving
    ok = host.request(4, "tools/call", {"name": "route", "arguments": {"question": "How do I shard Postgres?"}})
    assert ok["id"] == 4 and not ok["result"].get("isError")


def test_stdio_other_request_with_a_lone_surrogate_gets_a_jsonrpc_error(host: RawHost) -> None:
    host.send('{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"\\ud800"}}')
    reply = host.receive()
    assert reply["id"] == 7 and reply["error"]["code"] == -32602 and "not valid Unicode" in reply["error"]["message"]


def test_unanswerable_lines_are_left_to_the_sdk() -> None:
    import mcp_types
    from pydantic import ValidationError

    def error_of(line: str) -> ValidationError:
        try:
            mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValidationError as exc:
            return exc
        raise AssertionError("parsed")

    assert reply_to_unparsable(error_of('{"jsonrpc":"2.0","method":"x","params":{"a":"\\udcff"}}')) is None  # no id
    assert reply_to_unparsable(error_of("not json at all")) is None
    assert reply_to_unparsable(ValueError("other")) is None


@pytest.mark.anyio
async def test_in_process_tool_rejects_bad_text_itself() -> None:
    """Transports that do not parse JSON (in-process) still get a tool error from the tool itself."""
    from mcp import Client

    from crossroads.server.mcp_tools import build_mcp

    def no_orchestrator() -> Any:
        raise AssertionError("the orchestrator must not be reached")

    async with Client(build_mcp(no_orchestrator)) as client:
        result = await client.call_tool("route", {"question": "bad \udcff"})
    assert result.is_error and "not valid Unicode" in result.content[0].text  # type: ignore[union-attr]
