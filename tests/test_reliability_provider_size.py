"""Issue 17.4 (provider half): a provider response body over `max_response_bytes` is never read whole.

It is an error the retry layer treats like a malformed body: retried, then the fallback chain; the trace
says the body was too large. Runs against all three provider wire formats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import pytest

from crossroads.errors import ProviderError
from crossroads.providers.http import LoopLocalTransport, ResponseTooLarge
from tests.provider_wire import WIRES, Wire
from tests.test_providers_faults import Waits, ok
from tests.test_providers_faults import ask as ask_within_10s

pytestmark = pytest.mark.anyio
CAP = 100_000


async def ask(*args: Any, **settings: Any) -> Any:
    """The fault tests' ask, with a first-call warm-up outside its 10 s deadline (SDK imports on a busy box)."""
    import anthropic  # noqa: F401
    import openai  # noqa: F401

    return await ask_within_10s(*args, **settings)


def huge(wire: Wire) -> httpx.Response:
    """A well-formed answer whose text alone is three times the cap."""
    return httpx.Response(200, json=wire.text("x" * (3 * CAP)))


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_oversized_answer_is_retried_and_recorded(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    result, route = await ask(wire, monkeypatch, [huge(wire), ok(wire)], fake_toolbox, Waits(), max_response_bytes=CAP)
    assert result.status == "ok" and result.answer == "Use a HorizontalPodAutoscaler."
    assert route.call_count == 2
    [attempt] = result.model_requests[0].attempts
    assert "max_response_bytes" in attempt.error and str(CAP) in attempt.error
    assert len(result.model_dump_json()) < CAP  # nothing of the oversized body was kept


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
async def test_always_oversized_is_a_provider_error_after_the_retries(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    with pytest.raises(ProviderError) as failed:
        await ask(wire, monkeypatch, [huge(wire)] * 4, fake_toolbox, Waits(), max_response_bytes=CAP, retries=2)
    partial = failed.value.partial
    assert partial is not None and partial.status == "error"
    attempts = partial.model_requests[0].attempts
    assert len(attempts) == 3 and all("max_response_bytes" in a.error for a in attempts)
    assert len(partial.model_dump_json()) < CAP


async def test_oversized_answer_falls_back_to_the_next_model(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    wire = WIRES[0]
    result, _ = await ask(
        wire,
        monkeypatch,
        [huge(wire)] * 2,
        fake_toolbox,
        Waits(),
        max_response_bytes=CAP,
        retries=1,
        fallback=["offline"],
    )
    assert result.status == "ok" and result.answer  # answered by the offline fallback
    assert "max_response_bytes" in result.model_requests[0].attempts[-1].error


class _Chunked(httpx2.AsyncBaseTransport):
    """A response without Content-Length, streamed in 64 KiB chunks (what a chunked upstream sends)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        transport = self

        class Body(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                while transport.sent < transport.total:
                    transport.sent += 65536
                    yield b"x" * 65536

        return httpx2.Response(200, stream=Body(), request=request)


@pytest.mark.parametrize("stream", [False, True])
async def test_chunked_body_is_cut_off_at_the_cap(stream: bool) -> None:
    upstream = _Chunked(total=50_000_000)
    async with httpx2.AsyncClient(transport=LoopLocalTransport(wrapped=upstream, max_response_bytes=CAP)) as client:
        with pytest.raises(ResponseTooLarge, match="max_response_bytes"):
            if stream:
                async with client.stream("GET", "https://provider.example/v1?api_key=k") as response:
                    async for _ in response.aiter_bytes():
                        pass
            else:
                await client.get("https://provider.example/v1?api_key=k")
    assert upstream.sent <= CAP + 65536  # stopped reading right after the cap


async def test_content_length_over_the_cap_is_refused_before_reading() -> None:
    class Declared(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, headers={"content-length": str(CAP + 1)}, content=b"", request=request)

    async with httpx2.AsyncClient(transport=LoopLocalTransport(wrapped=Declared(), max_response_bytes=CAP)) as client:
        with pytest.raises(ResponseTooLarge) as refused:
            await client.get("https://provider.example/v1?api_key=secret-in-query")
    assert "secret-in-query" not in str(refused.value)  # the URL in the message has no query string
