"""Provider faults: each one ends in success after a retry or fallback, or in a clear typed error; nothing
hangs (every ask runs under a deadline) and the trace records every failed attempt. Waits are recorded by
a fake sleep, never slept."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest
import respx

from crossroads.config import load_settings
from crossroads.errors import ProviderError
from crossroads.orchestrator import Orchestrator
from crossroads.providers.resilience import RetryPolicy
from crossroads.result import AskResult
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from crossroads.tools.models import MathResult, PythonResult, SqlResult
from tests.provider_wire import ANTHROPIC, COMPAT, SECRET, WIRES, Wire, body_of

pytestmark = pytest.mark.anyio
QUESTION = "How do I autoscale inference pods?"


class _NoRouter:
    """These tests name the specialist (`agent=`), so routing is never asked; skipping it keeps them fast."""

    async def route(self, question: str) -> Any:
        raise AssertionError("not routed")


NO_ROUTER: Any = _NoRouter()


class _NoTools:
    """The fault matrix asks questions that call no tools; a tool call would be a bug in the test."""

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        raise AssertionError("no tools")

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        raise AssertionError("no tools")

    async def run_sql(
        self, query: str, tables: dict[str, list[dict[str, Any]]] | None = None, timeout: float | None = None
    ) -> SqlResult:
        raise AssertionError("no tools")

    async def aclose(self) -> None:
        return None


class Waits:
    """Stands in for `anyio.sleep`: records what it was asked to wait, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def ask(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, responses: list[Any], fake_toolbox: Any, waits: Waits, **settings: Any
) -> tuple[AskResult, respx.Route]:
    monkeypatch.setenv(wire.key_env or "OPENAI_COMPATIBLE_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(wire.url).mock(side_effect=responses)
    config = load_settings(model=wire.spec, base_url=wire.base_url, trace_db="off", **settings)
    with anyio.fail_after(10):
        async with Orchestrator(
            config,
            toolbox=fake_toolbox,
            http_transport=RespxHttpx2Transport(router),
            retry_sleep=waits,
            router=NO_ROUTER,
        ) as crossroads:
            return await crossroads.ask(QUESTION, agent="cloud-infra"), route


def ok(wire: Wire) -> httpx.Response:
    return httpx.Response(200, json=wire.text("Use a HorizontalPodAutoscaler."))


FAULTS: dict[str, Any] = {
    "429-retry-after": lambda w: w.error(429, {"retry-after": "7"}),
    "429": lambda w: w.error(429),
    "500": lambda w: w.error(500),
    "503": lambda w: w.error(503),
    "529": lambda w: w.error(529),
    "timeout": lambda w: httpx.ReadTimeout("read timed out"),
    "connection-reset": lambda w: httpx.ReadError("[Errno 104] Connection reset by peer"),
    "invalid-json": lambda w: httpx.Response(
        200, content=b'{"id": "msg_1", "content": [', headers={"content-type": "application/json"}
    ),
}
STATUS = {"429-retry-after": 429, "429": 429, "500": 500, "503": 503, "529": 529}


SHARED_WAITS = Waits()
_shared: dict[str, tuple[Orchestrator, RespxHttpx2Transport]] = {}


def shared(wire: Wire) -> tuple[Orchestrator, RespxHttpx2Transport]:
    """One orchestrator per provider for the whole matrix (building one per test would dominate its time);
    each test plugs its own respx router into the transport."""
    if wire.name not in _shared:
        os.environ[wire.key_env or "OPENAI_COMPATIBLE_API_KEY"] = SECRET
        try:
            transport = RespxHttpx2Transport(respx.MockRouter())
            config = load_settings(model=wire.spec, base_url=wire.base_url, trace_db="off")
            _shared[wire.name] = (
                Orchestrator(
                    config, toolbox=_NoTools(), http_transport=transport, retry_sleep=SHARED_WAITS, router=NO_ROUTER
                ).prepare(),  # models are built here, while the key is set
                transport,
            )
        finally:
            del os.environ[wire.key_env or "OPENAI_COMPATIBLE_API_KEY"]
    return _shared[wire.name]


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_then_success_after_one_retry(fault: str, wire: Wire) -> None:
    crossroads, transport = shared(wire)
    transport.router = router = respx.MockRouter(assert_all_mocked=True)
    route = router.post(wire.url).mock(side_effect=[FAULTS[fault](wire), ok(wire)])
    waits = SHARED_WAITS
    waits.waits.clear()
    with anyio.fail_after(10):
        result = await crossroads.ask(QUESTION, agent="cloud-infra")
    assert result.status == "ok" and result.answer == "Use a HorizontalPodAutoscaler."
    assert route.call_count == 2
    [record] = result.model_requests
    [attempt] = record.attempts
    assert attempt.status == STATUS.get(fault)
    assert waits.waits == [attempt.wait_s] or waits.waits == [pytest.approx(attempt.wait_s, abs=1e-3)]
    if fault == "429-retry-after":
        assert attempt.wait_s == 7.0  # Retry-After honoured
    else:
        assert 0 < attempt.wait_s <= 2.0  # first backoff step: 0.5 s plus up to 1 s of jitter
    assert result.usage.requests == 1  # the failed attempt is not a request that produced tokens


async def test_unknown_tool_name_is_sent_back_to_the_model_and_the_ask_succeeds(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    wire = COMPAT
    first = httpx.Response(200, json=wire.tool_call("deploy_to_prod", {"cluster": "main"}, "call_x"))
    result, route = await ask(wire, monkeypatch, [first, ok(wire)], fake_toolbox, Waits())
    assert result.status == "ok" and route.call_count == 2
    retry_prompt = wire.tool_results(body_of(route.calls[1].request))
    assert retry_prompt and "deploy_to_prod" in retry_prompt[0]  # the model is told the tool does not exist
    assert fake_toolbox.calls == []


async def test_arguments_failing_validation_are_sent_back(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    wire = ANTHROPIC
    first = httpx.Response(200, json=wire.tool_call("check_math", {"claim": ["not", "a", "string"]}, "c1"))
    result, route = await ask(wire, monkeypatch, [first, ok(wire)], fake_toolbox, Waits())
    assert result.status == "ok" and route.call_count == 2
    assert fake_toolbox.calls == []
    assert "claim" in wire.tool_results(body_of(route.calls[1].request))[0]


async def test_unknown_tool_every_time_ends_in_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    wire = COMPAT
    bad = [httpx.Response(200, json=wire.tool_call("deploy_to_prod", {}, f"c{i}")) for i in range(5)]
    with pytest.raises(ProviderError, match="cloud-infra") as info:
        await ask(wire, monkeypatch, bad, fake_toolbox, Waits())
    assert info.value.partial is not None and info.value.partial.status == "error"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(status: int, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    waits = Waits()
    with pytest.raises(ProviderError) as info:
        await ask(ANTHROPIC, monkeypatch, [ANTHROPIC.error(status), ok(ANTHROPIC)], fake_toolbox, waits)
    assert waits.waits == []
    partial = info.value.partial
    assert partial is not None
    [record] = partial.model_requests
    assert record.error and [a.status for a in record.attempts] == [status]
    assert partial.usage.requests == 0


async def test_retries_exhausted_then_fallback_to_the_next_provider(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    anthropic = router.post(ANTHROPIC.url).mock(side_effect=[ANTHROPIC.error(529)] * 3)
    local = router.post(COMPAT.url).mock(side_effect=[ok(COMPAT)])
    waits = Waits()
    config = load_settings(
        model=ANTHROPIC.spec, retries=2, trace_db="off", fallback=[f"{COMPAT.spec}@{COMPAT.base_url}", "offline"]
    )
    with anyio.fail_after(10):
        async with Orchestrator(
            config,
            toolbox=fake_toolbox,
            http_transport=RespxHttpx2Transport(router),
            retry_sleep=waits,
            router=NO_ROUTER,
        ) as crossroads:
            result = await crossroads.ask(QUESTION, agent="cloud-infra")
    assert anthropic.call_count == 3 and local.call_count == 1
    [record] = result.model_requests
    assert record.model == "llama3.2"
    assert [a.status for a in record.attempts] == [529, 529, 529]
    assert len(waits.waits) == 2  # two retries on anthropic, then straight to the fallback


async def test_every_remote_model_down_falls_back_to_offline(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    waits = Waits()
    result, route = await ask(
        ANTHROPIC, monkeypatch, [ANTHROPIC.error(503)] * 2, fake_toolbox, waits, retries=1, fallback=["offline"]
    )
    assert result.status == "ok" and "Cloud & Infrastructure" in result.answer  # the offline specialist answered
    assert route.call_count == 2
    assert [a.status for a in result.model_requests[0].attempts] == [503, 503]
    assert result.model_requests[0].model.startswith("offline")


async def test_retry_after_as_http_date_and_too_long_to_wait(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    waits = Waits()
    result, _ = await ask(
        COMPAT, monkeypatch, [COMPAT.error(429, {"retry-after": soon}), ok(COMPAT)], fake_toolbox, waits
    )
    assert result.status == "ok" and 0.0 < waits.waits[0] <= 5.0

    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    waits = Waits()
    result, route = await ask(
        COMPAT, monkeypatch, [COMPAT.error(429, {"retry-after": later})], fake_toolbox, waits, fallback=["offline"]
    )
    assert waits.waits == [] and route.call_count == 1  # not worth waiting two hours: fall back at once
    assert result.status == "ok" and result.model_requests[0].model.startswith("offline")


async def test_persistent_fault_without_fallback_is_a_provider_error_with_the_attempts(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    waits = Waits()
    with pytest.raises(ProviderError) as info:
        await ask(COMPAT, monkeypatch, [httpx.ReadTimeout("slow")] * 4, fake_toolbox, waits, retries=3)
    assert len(waits.waits) == 3
    partial = info.value.partial
    assert partial is not None
    [record] = partial.model_requests
    assert len(record.attempts) == 4 and "ModelTimeoutError" in record.attempts[0].error


async def test_malformed_but_valid_json_is_retried(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    missing_fields = httpx.Response(200, json={"id": "resp_1", "object": "response"})
    for wire in WIRES:
        result, route = await ask(wire, monkeypatch, [missing_fields, ok(wire)], fake_toolbox, Waits())
        assert result.status == "ok" and route.call_count == 2, wire.name


def test_retry_policy_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(jitter=0.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.backoff(20) == policy.max_backoff
