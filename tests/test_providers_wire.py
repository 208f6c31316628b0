"""A full multi-specialist ask on each provider's wire format (mocked with respx, no network): the LLM router's
structured output, a tool-call turn, a plain specialist, synthesis; and what was sent over the wire."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import pytest
import respx
from structlog.testing import capture_logs

from crossroads.config import load_settings
from crossroads.errors import ConfigError
from crossroads.orchestrator import Orchestrator
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from tests.provider_wire import ANTHROPIC, COMPAT, OPENAI, SECRET, WIRES, Wire, body_of

pytestmark = pytest.mark.anyio

QUESTION = "Is 17*23 = 391 for my batch-size maths, and how do I autoscale the inference pods?"
ROUTE = {
    "abstain": False,
    "reason": "a maths part and an infrastructure part",
    "targets": [
        {"agent": "data-ai", "confidence": 0.9, "sub_question": "Is 17*23 = 391 for my batch-size maths?"},
        {"agent": "cloud-infra", "confidence": 0.8, "sub_question": "How do I autoscale the inference pods?"},
    ],
}


def team_handler(wire: Wire) -> Any:
    """Answers each request by who is asking (read from the system prompt), like a real model would."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        system = wire.system(body)
        if "You route a developer's question" in system:
            return httpx.Response(200, json=wire.tool_call("final_result", ROUTE, "call_route"))
        if "synthesiser of crossroads" in system:
            return httpx.Response(
                200, json=wire.text("Merged: the claim holds; use an HPA.", input_tokens=300, output_tokens=30)
            )
        if "Data & AI Specialist" in system:
            results = wire.tool_results(body)
            if not results:
                return httpx.Response(
                    200,
                    json=wire.tool_call(
                        "check_math", {"claim": "17*23 = 391"}, "call_m1", input_tokens=1200, output_tokens=25
                    ),
                )
            return httpx.Response(
                200,
                json=wire.text(f"The sandbox says: {results[0]}", input_tokens=1300, cache_read=1000, cache_write=0),
            )
        if "Cloud & Infrastructure Specialist" in system:
            return httpx.Response(
                200,
                json=wire.text("Use a HorizontalPodAutoscaler on GPU utilisation.", input_tokens=1100, cache_write=900),
            )
        raise AssertionError(f"unexpected request: {system[:80]!r}")

    return handle


def configure(wire: Wire, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    monkeypatch.setenv(wire.key_env or "OPENAI_COMPATIBLE_API_KEY", SECRET)
    return load_settings(model=wire.spec, base_url=wire.base_url, trace_db="off", router={"mode": "llm"}, **extra)


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_multi_specialist_ask_on_each_provider(
    wire: Wire,
    monkeypatch: pytest.MonkeyPatch,
    fake_toolbox: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(wire.url).mock(side_effect=team_handler(wire))
    settings = configure(wire, monkeypatch)
    with capture_logs() as logs, anyio.fail_after(20):
        async with Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router)) as o:
            result = await o.ask(QUESTION)

    assert result.status == "ok", result.error
    assert result.route.stage == "llm" and result.route.agents == ["data-ai", "cloud-infra"]
    assert result.route.targets[1].sub_question == "How do I autoscale the inference pods?"
    assert result.answer == "Merged: the claim holds; use an HPA."
    assert [(c.agent, c.name, c.arguments) for c in result.tool_calls] == [
        ("data-ai", "check_math", {"claim": "17*23 = 391"})
    ]
    assert fake_toolbox.calls == [("check_math", "17*23 = 391")]
    assert route.call_count == 5  # router, data-ai x2 (tool turn, answer), cloud-infra, synthesiser

    bodies = [body_of(call.request) for call in route.calls]
    model_name = wire.spec.split(":", 1)[1]
    assert all(b["model"] == model_name for b in bodies)
    data_ai = [b for b in bodies if "Data & AI Specialist" in wire.system(b)]
    assert len(data_ai) == 2
    assert {"run_python", "check_math", "run_sql", "handoff"} <= set(wire.tools(data_ai[0]))
    assert "Is 17*23 = 391" in json.dumps(data_ai[0])
    returned = wire.tool_results(data_ai[1])
    flat = returned[0].replace("\\", "").replace(" ", "") if len(returned) == 1 else ""
    assert '"verified":false' in flat and '"claim":"17*23=391"' in flat  # the fake toolbox's verdict
    router_body = next(b for b in bodies if "You route" in wire.system(b))
    assert wire.tools(router_body) == ["final_result"]

    for call in route.calls:  # the key goes only where it belongs: the Authorization header
        assert call.request.headers["authorization"] == f"Bearer {SECRET}"
        assert call.request.headers["x-stainless-retry-count"] == "0"  # SDK retries are off
        assert SECRET not in call.request.content.decode()
    captured = capsys.readouterr()
    assert SECRET not in caplog.text and SECRET not in repr(logs) and SECRET not in captured.err + captured.out
    assert SECRET not in result.model_dump_json()

    # cost awareness: every request (the LLM router's too) has its tokens; the result sums them
    assert [r.agent for r in result.model_requests].count("router") == 1
    assert len(result.model_requests) == 5
    assert all(r.input_tokens > 0 and r.output_tokens > 0 for r in result.model_requests)
    assert result.usage.requests == 5
    assert result.usage.input_tokens == sum(r.input_tokens for r in result.model_requests)
    assert result.usage.output_tokens == sum(r.output_tokens for r in result.model_requests)
    if wire is ANTHROPIC:
        assert result.usage.cache_read_tokens == 1000 and result.usage.cache_write_tokens == 900
    if wire is OPENAI:
        assert result.usage.cache_read_tokens == 1000


async def test_anthropic_request_carries_prompt_caching_and_max_tokens(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(ANTHROPIC.url).mock(return_value=httpx.Response(200, json=ANTHROPIC.text("ok")))
    settings = configure(ANTHROPIC, monkeypatch)
    with anyio.fail_after(10):
        async with Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router)) as o:
            await o.ask("How do I autoscale pods?", agent="cloud-infra")
    body = body_of(route.calls[0].request)
    assert body["max_tokens"] == 4096 and body["stream"] is False
    system = body["system"]
    assert isinstance(system, list) and "Cloud & Infrastructure Specialist" in system[-1]["text"]
    assert system[-1]["cache_control"]["type"] == "ephemeral"  # the long card prompt is cached
    assert body["tools"][-1]["cache_control"]["type"] == "ephemeral"
    assert len(system[-1]["text"]) > 2000


async def test_openai_compatible_sends_no_strict_schemas_and_responses_api_for_openai(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    router = respx.MockRouter(assert_all_mocked=True)
    chat = router.post(COMPAT.url).mock(return_value=httpx.Response(200, json=COMPAT.text("ok")))
    settings = configure(COMPAT, monkeypatch)
    async with Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router)) as o:
        await o.ask("How do I autoscale pods?", agent="cloud-infra")
    body = body_of(chat.calls[0].request)
    assert body["messages"][0]["role"] == "system"
    assert all(not t["function"].get("strict") for t in body["tools"])


async def test_openai_compatible_without_key_never_sends_the_openai_key(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # set for OpenAI itself, must not reach a local server
    router = respx.MockRouter(assert_all_mocked=True)
    chat = router.post(COMPAT.url).mock(return_value=httpx.Response(200, json=COMPAT.text("ok")))
    settings = load_settings(model=COMPAT.spec, base_url=COMPAT.base_url, trace_db="off")
    async with Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router)) as o:
        await o.ask("How do I autoscale pods?", agent="cloud-infra")
    assert SECRET not in chat.calls[0].request.headers["authorization"]


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ("anthropic:claude-sonnet-4-6", "ANTHROPIC_API_KEY"),
        ("openai:gpt-5", "OPENAI_API_KEY"),
        ("openai-chat:gpt-4.1", "OPENAI_API_KEY"),
    ],
)
def test_missing_key_is_a_config_error_at_startup_naming_the_variable(
    spec: str, variable: str, fake_toolbox: Any
) -> None:
    with pytest.raises(ConfigError, match=variable):
        Orchestrator(load_settings(model=spec, trace_db="off"), toolbox=fake_toolbox).prepare()


def test_missing_key_of_a_fallback_model_is_reported_too(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    settings = load_settings(model=ANTHROPIC.spec, fallback=["openai:gpt-5", "offline"], trace_db="off")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        Orchestrator(settings, toolbox=fake_toolbox).prepare()


@pytest.mark.parametrize("spec", ["gemini:pro", "anthropic:", "offline:x", "claude"])
def test_bad_model_spec_lists_the_choices(spec: str, fake_toolbox: Any) -> None:
    with pytest.raises(ConfigError, match="openai-compatible:<model>"):
        Orchestrator(load_settings(model=spec, trace_db="off"), toolbox=fake_toolbox).prepare()


def test_inspecting_and_routing_need_no_key(fake_toolbox: Any) -> None:
    orchestrator = Orchestrator(
        load_settings(model="anthropic:claude-sonnet-4-6", trace_db="off"), toolbox=fake_toolbox
    )
    assert "data-ai" in orchestrator.cards and orchestrator.graph.neighbours("data-ai")
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        orchestrator.prepare()


def test_openai_compatible_needs_a_base_url(fake_toolbox: Any) -> None:
    with pytest.raises(ConfigError, match="base URL"):
        Orchestrator(load_settings(model=COMPAT.spec, trace_db="off"), toolbox=fake_toolbox).prepare()
