"""Security of the HTTP service: keys, body and question limits, rate limits, error shapes, no leaks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from server_support import API_KEY, running_service, server_settings
from typer.testing import CliRunner

from crossroads.orchestrator import Orchestrator

QUESTION = "How do I profile a slow Python loop and speed it up?"
ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Orchestrator]]:
    from conftest import FakeToolbox

    settings = server_settings(tmp_path_factory.mktemp("srv"), max_body_bytes=4096, rate_limit_per_minute=0)
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update={"max_question_chars": 200})})
    with running_service(settings, FakeToolbox()) as pair:
        yield pair


def _auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "headers", [{}, _auth("sk-wrong"), {"Authorization": API_KEY}, {"Authorization": "Basic " + API_KEY}]
)
def test_missing_or_wrong_key_is_401(service: tuple[str, Orchestrator], headers: dict[str, str]) -> None:
    response = httpx.post(f"{service[0]}/v1/ask", json={"question": QUESTION}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key" and set(response.json()["error"]) == ERROR_KEYS
    assert httpx.get(f"{service[0]}/v1/models", headers=headers).status_code == 401
    assert httpx.post(f"{service[0]}/mcp", json={}, headers=headers).status_code == 401


def test_sdk_sees_authentication_error(service: tuple[str, Orchestrator]) -> None:
    client = openai.OpenAI(base_url=f"{service[0]}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_oversized_body_is_413(service: tuple[str, Orchestrator]) -> None:
    big = {"question": "x" * 10_000}
    response = httpx.post(f"{service[0]}/v1/ask", json=big, headers=_auth())
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the guard counts what arrives
        yield b'{"question": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    chunked = httpx.post(f"{service[0]}/v1/ask", content=chunks(), headers=_auth())
    assert chunked.status_code == 413


@pytest.mark.parametrize(("question", "needle"), [("", "empty"), ("   \n", "empty"), ("q" * 500, "limit is 200")])
def test_empty_or_oversized_question_is_422(service: tuple[str, Orchestrator], question: str, needle: str) -> None:
    for path, body in [
        ("/v1/ask", {"question": question}),
        ("/v1/route", {"question": question}),
        ("/v1/chat/completions", {"model": "crossroads", "messages": [{"role": "user", "content": question}]}),
    ]:
        response = httpx.post(f"{service[0]}{path}", json=body, headers=_auth())
        assert response.status_code == 422, path
        error = response.json()["error"]
        assert error["code"] == "invalid_input" and needle in error["message"]


def test_malformed_json_is_422_and_schema_errors_400(service: tuple[str, Orchestrator]) -> None:
    bad = httpx.post(
        f"{service[0]}/v1/chat/completions",
        content=b'{"model": "crossroads", "messages": [',
        headers={**_auth(), "Content-Type": "application/json"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_json" and set(bad.json()["error"]) == ERROR_KEYS
    undecodable = httpx.post(
        f"{service[0]}/v1/ask",
        content=b'\xff\xfe{"question": "hi"}',
        headers={**_auth(), "Content-Type": "application/json"},
    )
    assert undecodable.status_code == 422 and undecodable.json()["error"]["code"] == "invalid_json"
    missing = httpx.post(f"{service[0]}/v1/chat/completions", json={"model": "crossroads"}, headers=_auth())
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "messages" and missing.json()["error"]["type"] == "invalid_request_error"


def test_cors_is_off_by_default(service: tuple[str, Orchestrator]) -> None:
    response = httpx.get(f"{service[0]}/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    from conftest import FakeToolbox

    settings = server_settings(tmp_path, rate_limit_per_minute=3)
    with running_service(settings, FakeToolbox()) as (url, _):
        statuses = [httpx.get(f"{url}/v1/models", headers=_auth()).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = httpx.get(f"{url}/v1/models", headers=_auth())
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["type"] == "rate_limit_error"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.models.list()
        assert httpx.get(f"{url}/healthz").status_code == 200  # health checks are not limited


def test_rate_limiter_concurrency_and_refill() -> None:
    from crossroads.server.guard import RateLimiter

    limiter = RateLimiter(per_minute=60, max_concurrent=2)
    assert limiter.acquire("k", now=0.0) is None and limiter.acquire("k", now=0.0) is None
    assert limiter.acquire("k", now=0.0) == 1.0  # two in flight
    limiter.release("k")
    assert limiter.acquire("other", now=0.0) is None  # per key
    tight = RateLimiter(per_minute=1, max_concurrent=0)
    assert tight.acquire("k", now=0.0) is None
    assert tight.acquire("k", now=30.0) == pytest.approx(30.0)
    assert tight.acquire("k", now=60.0) is None


def test_no_keys_refuses_to_bind_beyond_loopback() -> None:
    from crossroads.cli.app import _register_all, app

    if not any(c.name == "serve" for c in app.registered_commands):
        _register_all()
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2 and "refusing to bind" in result.stderr


def test_keys_never_appear_in_logs_or_traces(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debug-level JSON logs of the whole service: neither the right nor a wrong key is ever written."""
    import structlog
    from conftest import FakeToolbox

    from crossroads.logs import configure_logging

    wrong = "sk-crossroads-wrong-5c2f9e"
    monkeypatch.setenv("CROSSROADS_API_KEYS", "other-key-1f3a")
    configure_logging("json", "debug")
    try:
        settings = server_settings(tmp_path)
        with running_service(settings, FakeToolbox()) as (url, _):
            ok = httpx.post(
                f"{url}/v1/chat/completions",
                headers=_auth(),
                json={"model": "crossroads", "messages": [{"role": "user", "content": QUESTION}]},
            )
            assert ok.status_code == 200
            other = httpx.post(f"{url}/v1/ask", headers=_auth("other-key-1f3a"), json={"question": QUESTION})
            assert other.status_code == 200  # keys from CROSSROADS_API_KEYS are accepted too
            assert httpx.post(f"{url}/v1/ask", headers=_auth(wrong), json={"question": QUESTION}).status_code == 401
            trace_id = ok.json()["crossroads"]["trace_id"]
    finally:
        structlog.reset_defaults()
    logs = capfd.readouterr().err
    assert '"event": "request"' in logs and trace_id in logs  # the log is not empty: it would show a leak
    db = settings.trace_db_path()
    assert db is not None
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert trace_id.encode() in stored
    for secret in (API_KEY, wrong, "other-key-1f3a"):
        assert secret not in logs
        assert secret.encode() not in stored
