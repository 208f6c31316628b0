"""Issue 17.1: keys never reach logs, traces or the trace DB.

The headline test forces an unhandled server error in a real `crossroads serve` process while the caller
sends `Authorization: Bearer <key>`, and asserts the key appears nowhere in the server's stderr (with
both log formats), while the error itself was logged.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import respx
from reliability_support import serve_process

from crossroads.config import load_settings
from crossroads.errors import ProviderError
from crossroads.orchestrator import Orchestrator
from crossroads.providers.resilience import describe
from crossroads.redact import REDACTED, redact, redact_value, register_secrets
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from tests.provider_wire import COMPAT

CALLER_KEY = "sk-test-SECRET-caller-0b7c55e1d2"
PROVIDER_KEY = "local-provider-key-9f8e7d6c"  # not key-shaped: only literal (env) redaction catches it

# Replaces Orchestrator.route with one that fails with the caller's key in a local variable and a
# provider-looking key in its message: the two ways a secret reaches a traceback.
FORCED_ERROR = """
from crossroads.orchestrator import Orchestrator
async def _boom(self, question, *args, **kwargs):
    authorization = "Bearer " + "sk-test-SECRET-caller-0b7c55e1d2"
    raise RuntimeError("provider said: bad key sk-proj-AbCdEf0123456789xyz for " + question)
Orchestrator.route = _boom
"""


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_forced_server_error_never_logs_the_callers_key(log_format: str) -> None:
    env = {"CROSSROADS_API_KEYS": CALLER_KEY, "CROSSROADS_LOG_LEVEL": "info", "CROSSROADS_LOG_FORMAT": log_format}
    with serve_process("--trace-db", "off", prelude=FORCED_ERROR, env=env) as served:
        reply = httpx2.post(
            f"{served.url}/v1/route",
            json={"question": "how do I shard postgres?"},
            headers={"Authorization": f"Bearer {CALLER_KEY}", "X-Extra": CALLER_KEY},
            timeout=30,
        )
        assert reply.status_code == 500
        assert reply.json()["error"]["code"] == "internal_error"
    logs = served.stderr
    assert "unhandled error" in logs and "RuntimeError" in logs, logs[-2000:]  # the error was logged...
    assert CALLER_KEY not in logs  # ...without the caller's key (headers, locals) ...
    assert "sk-proj-AbCdEf0123456789xyz" not in logs  # ... or the key in the exception text
    assert "SECRET" not in logs
    assert REDACTED in logs
    assert len(logs) < 30_000, f"{len(logs)} bytes of logs for one error"  # no frame locals


def test_redact_removes_key_shapes() -> None:
    text = (
        "Authorization: Bearer abc.def-ghi_jkl sk-ant-api03-AAAAbbbbCCCCdddd sk-proj-0123456789abcdef "
        'sk-0123456789abcdefghij https://x/v1?api_key=hunter22hunter&x=1 {"token": "abcdef12"}'
    )
    out = redact(text)
    for secret in ("abc.def-ghi_jkl", "AAAAbbbb", "0123456789abcdef", "hunter22", "abcdef12"):
        assert secret not in out
    assert out.count(REDACTED) == 6
    # ordinary words survive
    for prose in ("max_tokens: 400000", "the bearer of bad news", "task-0123 done", "basic auth"):
        assert redact(prose) == prose


def test_redact_knows_env_and_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_API_KEY", "plain-looking-value-42")
    monkeypatch.setenv("CROSSROADS_API_KEYS", "first-client-key,second-client-key")
    register_secrets(["registered-secret-value", "short"])
    out = redact("a plain-looking-value-42 b first-client-key c second-client-key d registered-secret-value short")
    assert out == f"a {REDACTED} b {REDACTED} c {REDACTED} d {REDACTED} short"
    monkeypatch.delenv("MY_LLM_API_KEY")
    assert redact("plain-looking-value-42") == "plain-looking-value-42"  # follows the environment


def test_redact_value_drops_header_fields() -> None:
    event = {"event": "x", "headers": {"a": "b"}, "Authorization": "whatever", "nested": [("sk-abcdefghijklmn",)]}
    assert redact_value(event) == {
        "event": "x",
        "headers": REDACTED,
        "Authorization": REDACTED,
        "nested": [(REDACTED,)],
    }


def test_describe_redacts_provider_error_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", PROVIDER_KEY)
    text = describe(ValueError(f"Incorrect API key provided: {PROVIDER_KEY} (also sk-ant-api03-zzzzzzzzzzzz)"))
    assert PROVIDER_KEY not in text and "zzzzzzzz" not in text and REDACTED in text


class _NoRouter:
    async def route(self, question: str) -> Any:
        raise AssertionError("not routed")


@pytest.mark.anyio
async def test_provider_error_echoing_the_key_is_redacted_in_the_trace(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    """A 401 body that echoes the key (some proxies do) is stored redacted: attempts, errors, message."""
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", PROVIDER_KEY)
    body = {"error": {"message": f"invalid key {PROVIDER_KEY}; header was Bearer {PROVIDER_KEY}", "type": "auth"}}
    router = respx.MockRouter(assert_all_mocked=True)
    router.post(COMPAT.url).mock(return_value=httpx.Response(401, json=body))
    config = load_settings(model=COMPAT.spec, base_url=COMPAT.base_url, trace_db="off")
    with anyio.fail_after(10):
        async with Orchestrator(
            config, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router), router=_NoRouter()
        ) as crossroads:
            with pytest.raises(ProviderError) as failed:
                await crossroads.ask("How do I autoscale inference pods?", agent="cloud-infra")
    partial = failed.value.partial
    assert partial is not None
    stored = partial.model_dump_json()
    assert "invalid key" in stored  # the provider's message is kept...
    assert PROVIDER_KEY not in stored  # ...without the key
    assert PROVIDER_KEY not in str(failed.value)
    assert PROVIDER_KEY not in json.dumps(partial.model_dump(mode="json")["model_requests"])
