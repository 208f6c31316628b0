"""Cards bring their own MCP tools: real MCP servers started by the tests, real provider wire formats.

- `@modelcontextprotocol/server-everything`, the MCP project's reference server from the npm registry
  (nobody here wrote it), over stdio and over streamable HTTP. `.ci/run` installs it into a cache dir
  (`MCP_TEST_NPM_DIR`, default `~/.cache/crossroads/npm-mcp`); without node/npm the tests skip, and fail
  under CROSSROADS_CI=1 (`real_parts.missing`).
- `crossroads mcp` itself, as the server of a card.
- `tests/fixtures/mcp_servers/notes_server.py` (the official `mcp` SDK) for lifetime, timeouts and failures,
  so those run everywhere.

A real provider must see the MCP tools: each test checks the Anthropic / OpenAI request body (respx through
`crossroads.testing.respx_bridge`), scripts a tool-call turn, and checks that the real MCP tool ran and is in
the trace like our own tools.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from real_parts import missing

from crossroads.config import load_settings
from crossroads.errors import ProviderError
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from tests.provider_wire import ANTHROPIC, OPENAI, SECRET, Wire, body_of

pytestmark = pytest.mark.anyio

NPM_DIR = Path(os.environ.get("MCP_TEST_NPM_DIR") or Path.home() / ".cache" / "crossroads" / "npm-mcp")
EVERYTHING_PACKAGE = "@modelcontextprotocol/server-everything@2026.8.31"
NOTES_SERVER = Path(__file__).resolve().parent / "fixtures" / "mcp_servers" / "notes_server.py"
CROSSROADS_BIN = Path(sys.executable).parent / "crossroads"


@pytest.fixture(scope="session")
def everything_bin() -> Path:
    """The npm reference server's executable, installed into the cache dir if npm is here."""
    binary = NPM_DIR / "node_modules" / ".bin" / "mcp-server-everything"
    if not binary.exists():
        if not (shutil.which("npm") and shutil.which("node")):
            missing("node and npm are needed for the npm MCP reference server (.ci/run installs them)")
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(NPM_DIR), EVERYTHING_PACKAGE],
            check=True,
            timeout=300,
        )
    if not shutil.which("node"):
        missing("node is needed to run the npm MCP reference server")
    return binary


def team(tmp_path: Path, *cards: str) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir(exist_ok=True)
    for i, text in enumerate(cards):
        (folder / f"card{i}.md").write_text(text, encoding="utf-8")
    return folder


def card(name: str, servers: dict[str, Any], tools: str | None = None, extra: str = "") -> str:
    lines = [
        "---",
        f"name: {name}",
        f"description: {name} answers with its MCP tools.",
        f"mcpServers: {json.dumps(servers)}",
    ]
    if tools is not None:
        lines.append(f"tools: {tools}")
    return "\n".join([*lines, *([extra] if extra else []), "---", f"# {name}", "", "Use your tools.", ""])


Script = Callable[[list[str]], tuple[str, dict[str, Any]] | str]
"""Given the tool results sent so far, the next turn: a tool call (name, args) or a final text."""


class Provider:
    """A respx-mocked provider that plays a scripted specialist and keeps every request body."""

    def __init__(self, wire: Wire, script: Script) -> None:
        self.wire = wire
        self.bodies: list[dict[str, Any]] = []
        self.router = respx.MockRouter(assert_all_mocked=True)
        self.router.post(wire.url).mock(side_effect=self.handle)
        self.script = script

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        self.bodies.append(body)
        turn = self.script(self.wire.tool_results(body))
        if isinstance(turn, str):
            return httpx.Response(200, json=self.wire.text(turn))
        name, args = turn
        return httpx.Response(200, json=self.wire.tool_call(name, args, f"call_{len(self.bodies)}"))

    def tools(self, index: int = 0) -> list[str]:
        return self.wire.tools(self.bodies[index])


def settings_for(wire: Wire, folder: Path, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    monkeypatch.setenv(wire.key_env or "OPENAI_COMPATIBLE_API_KEY", SECRET)
    return load_settings(
        model=wire.spec, base_url=wire.base_url, trace_db="off", cards=[folder], builtin_cards=False, **extra
    )


async def ask(settings: Any, provider: Provider, agent: str, question: str, **kw: Any) -> tuple[AskResult, Any]:
    orchestrator = Orchestrator(settings, http_transport=RespxHttpx2Transport(provider.router), **kw)
    try:
        with anyio.fail_after(60):
            return await orchestrator.ask(question, agent=agent), orchestrator
    finally:
        await orchestrator.aclose()


def call_then_answer(tool: str, args: dict[str, Any]) -> Script:
    def script(results: list[str]) -> tuple[str, dict[str, Any]] | str:
        return (tool, args) if not results else f"The tool said: {results[-1]}"

    return script


# -- the npm reference server -----------------------------------------------------------------------


@pytest.mark.parametrize("wire", [ANTHROPIC, OPENAI], ids=["anthropic", "openai"])
async def test_npm_reference_server_tools_reach_the_provider_and_the_trace(
    wire: Wire, everything_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = {"everything": {"command": str(everything_bin), "args": ["stdio"]}}
    folder = team(tmp_path, card("calc", servers, tools="Read, mcp__everything__get-sum, mcp__everything__echo"))
    provider = Provider(wire, call_then_answer("mcp__everything__get-sum", {"a": 17, "b": 25}))
    result, _ = await ask(settings_for(wire, folder, monkeypatch), provider, "calc", "What is 17 + 25?")

    assert result.status == "ok", result.error
    # the provider saw exactly the MCP tools the card allows, with their schemas, under Claude Code's names
    assert sorted(provider.tools()) == ["mcp__everything__echo", "mcp__everything__get-sum"]
    schema = json.dumps(provider.bodies[0]["tools"])
    assert '"a"' in schema and '"b"' in schema
    (call,) = result.tool_calls
    assert (call.agent, call.name, call.arguments, call.ok) == (
        "calc",
        "mcp__everything__get-sum",
        {"a": 17, "b": 25},
        True,
    )
    assert "42" in json.dumps(call.result)
    assert "42" in provider.wire.tool_results(provider.bodies[1])[0]  # the real server's answer went back
    assert "42" in result.answer


@pytest.fixture
def everything_http(everything_bin: Path) -> Iterator[str]:
    """The npm reference server in streamable-HTTP mode on a free port; its MCP URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(everything_bin), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


async def test_npm_reference_server_over_streamable_http(
    everything_http: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = {"everything": {"type": "http", "url": everything_http}}
    folder = team(tmp_path, card("echoer", servers, extra="disallowedTools: Bash, mcp__everything__get-env"))
    provider = Provider(ANTHROPIC, call_then_answer("mcp__everything__echo", {"message": "over http"}))
    result, _ = await ask(settings_for(ANTHROPIC, folder, monkeypatch), provider, "echoer", "Echo it")
    assert result.status == "ok", result.error
    offered = provider.tools()
    assert "mcp__everything__echo" in offered and "mcp__everything__get-env" not in offered
    assert {"check_math", "run_sql"} <= set(offered) and "run_python" not in offered  # Bash disallowed
    assert [(c.name, c.ok) for c in result.tool_calls] == [("mcp__everything__echo", True)]
    assert "Echo: over http" in json.dumps(result.tool_calls[0].result)


# -- crossroads mcp as a card's server --------------------------------------------------------------


async def test_crossroads_mcp_itself_is_a_cards_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CROSSROADS_BIN.exists()
    home = tmp_path / "child"
    servers = {
        "crossroads": {
            "command": str(CROSSROADS_BIN),
            "args": ["mcp", "--trace-db", "off"],
            "env": {"XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")},
        }
    }
    folder = team(tmp_path, card("meta", servers, tools="mcp__crossroads__route"))
    question = "How do I autoscale inference pods on Kubernetes with an HPA?"
    provider = Provider(ANTHROPIC, call_then_answer("mcp__crossroads__route", {"question": question}))
    settings = settings_for(ANTHROPIC, folder, monkeypatch)
    result, orchestrator = await ask(settings, provider, "meta", "Which crossroads specialist fits?")

    assert result.status == "ok", result.error
    assert provider.tools() == ["mcp__crossroads__route"]  # ask and list_agents are not allowed by `tools`
    (call,) = result.tool_calls
    assert call.name == "mcp__crossroads__route" and call.ok
    assert "cloud-infra" in json.dumps(call.result)
    (state,) = orchestrator.mcp_servers.servers_of("meta")
    assert state.start_ms is None  # closed with the orchestrator


# -- lifetime, timeouts and failures (the SDK-based fixture server) ----------------------------------


def notes(marker: str) -> dict[str, Any]:
    return {"notes": {"command": sys.executable, "args": [str(NOTES_SERVER), marker]}}


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_a_server_starts_once_serves_every_ask_and_stops_with_the_orchestrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"crossroads-mcp-test-marker-{os.getpid()}-lifetime"
    folder = team(tmp_path, card("ops", notes(marker), extra="disallowedTools: mcp__notes__slow"))
    provider = Provider(ANTHROPIC, call_then_answer("mcp__notes__lookup", {"topic": "deploy"}))
    orchestrator = Orchestrator(
        settings_for(ANTHROPIC, folder, monkeypatch), http_transport=RespxHttpx2Transport(provider.router)
    )
    try:
        first = await orchestrator.ask("When do deploys go out?", agent="ops")
        (state,) = orchestrator.mcp_servers.servers_of("ops")
        started, pids = state.start_ms, processes_with(marker)
        second = await orchestrator.ask("And when exactly?", agent="ops")
        assert state.start_ms == started and processes_with(marker) == pids and len(pids) == 1
    finally:
        await orchestrator.aclose()
    for result in (first, second):
        assert [(c.name, c.ok) for c in result.tool_calls] == [("mcp__notes__lookup", True)]
        assert "Tuesdays" in result.answer
    offered = set(provider.tools())
    assert {"mcp__notes__lookup", "mcp__notes__add", "run_python"} <= offered and "mcp__notes__slow" not in offered
    for _ in range(100):  # no server outlives the orchestrator: gone within 5 s of aclose, loop still running
        if not processes_with(marker):
            break
        await anyio.sleep(0.05)
    assert processes_with(marker) == []
    assert started is not None and started > 0


async def test_a_slow_tool_call_times_out_as_a_failed_tool_the_model_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = team(tmp_path, card("waiter", notes("crossroads-mcp-test-marker-slow")))
    provider = Provider(ANTHROPIC, call_then_answer("mcp__notes__slow", {"seconds": 30}))
    settings = settings_for(ANTHROPIC, folder, monkeypatch, mcp={"call_timeout": 0.5})
    t0 = time.monotonic()
    result, _ = await ask(settings, provider, "waiter", "Wait for it")
    assert time.monotonic() - t0 < 20
    assert result.status == "ok"
    (call,) = result.tool_calls
    assert call.name == "mcp__notes__slow" and not call.ok
    assert "did not answer within 0.5 s" in json.dumps(call.result)
    assert "did not answer within 0.5 s" in provider.wire.tool_results(provider.bodies[1])[0]


@pytest.mark.parametrize(
    ("server", "settings", "fragment"),
    [
        ({"command": "no-such-mcp-server"}, {}, "cannot start: command 'no-such-mcp-server' not found on PATH"),
        ({"command": sys.executable, "args": ["-c", "pass"]}, {}, "could not start:"),
        (
            {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]},
            {"mcp": {"start_timeout": 1}},
            "did not start within 1 s (mcp.start_timeout)",
        ),
        ({"type": "http", "url": "http://127.0.0.1:9/${MISSING_MCP_PATH}"}, {}, "MISSING_MCP_PATH not set"),
    ],
    ids=["not-found", "exits", "start-timeout", "unset-variable"],
)
async def test_a_server_that_cannot_start_is_a_run_error_naming_card_and_server(
    server: dict[str, Any], settings: dict[str, Any], fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = team(tmp_path, card("broken", {"tools": server}))
    provider = Provider(ANTHROPIC, call_then_answer("x", {}))
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await ask(settings_for(ANTHROPIC, folder, monkeypatch, **settings), provider, "broken", "Hello?")
    assert time.monotonic() - t0 < 15
    message = str(info.value)
    assert "card 'broken': MCP server 'tools'" in message and fragment in message, message
    assert provider.bodies == []  # nothing was asked of the model


async def test_a_neighbour_whose_server_cannot_start_refuses_the_handoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = card("lead", {}, extra="handoffs:\n  - to: helper\n    reason: notes").replace("mcpServers: {}\n", "")
    helper = card("helper", {"x": {"command": "no-such-mcp-server"}})
    folder = team(tmp_path, lead, helper)
    provider = Provider(
        ANTHROPIC,
        call_then_answer("handoff", {"to": "helper", "question": "notes?", "reason": "notes"}),
    )
    result, _ = await ask(settings_for(ANTHROPIC, folder, monkeypatch), provider, "lead", "Ask the helper")
    assert result.status == "ok"
    (handoff,) = result.handoffs
    assert not handoff.accepted and "MCP server 'x'" in handoff.note
    assert "handoff refused" in provider.wire.tool_results(provider.bodies[1])[0]


async def test_offline_specialists_keep_working_beside_mcp_tools(tmp_path: Path, fake_toolbox: Any) -> None:
    folder = team(tmp_path, card("ops", notes("crossroads-mcp-test-marker-offline"), extra="tools: Bash, mcp__notes"))
    settings = load_settings(trace_db="off", cards=[folder], builtin_cards=False)
    async with Orchestrator(settings, toolbox=fake_toolbox) as orchestrator:
        with anyio.fail_after(60):
            result = await orchestrator.ask("Run this:\n```python\nprint(1)\n```", agent="ops")
            ((state, error),) = (await orchestrator.probe_mcp())["ops"]
            assert error is None and state.tools == ["lookup", "add", "slow"]
    assert result.status == "ok" and [c.name for c in result.tool_calls] == ["run_python"]
    assert state.tools == [] and state.start_ms is None  # stopped by aclose


@pytest.fixture(autouse=True)
def _no_stray_servers() -> Iterator[None]:
    """Every test's servers are gone shortly after its orchestrator closed."""
    yield
    deadline = time.monotonic() + 5
    while processes_with("crossroads-mcp-test-marker-") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with("crossroads-mcp-test-marker-") == []
