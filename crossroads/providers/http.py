"""The one HTTP client all providers of an orchestrator share.

It is an httpx2 client (what the openai and anthropic SDKs use), with explicit timeouts and connection limits.

Provider SDK clients are built when the orchestrator is built, usually before any event loop runs, but a
connection pool belongs to the loop it first ran on. So the `httpx2.AsyncClient` itself holds no loop
state: its transport creates the real connection pool lazily, inside the running loop, and starts a new
one if a later call comes from another loop (e.g. `ask_sync` after `asyncio.run`). `aclose()` closes it.

Every response body is capped (`max_response_bytes`, default 8 MB): a provider (or anything posing as
one at `base_url`) that answers with 50 MB would otherwise be read whole, parsed and stored in the trace.
A body over the cap is cut off while it is read and raises `ResponseTooLarge`, a transport error, so the
SDK reports it like a broken connection and crossroads retries it and then falls back, as for a
malformed body; `describe()` finds it in the error's causes so the trace says what happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2

DEFAULT_TIMEOUT = httpx2.Timeout(90.0, connect=10.0)
"""Per HTTP attempt: connect within 10 s, and no read/write/pool wait longer than 90 s. The ask's wall time
limit (`settings.timeout`) bounds the whole run on top of this."""
DEFAULT_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30.0)
DEFAULT_MAX_RESPONSE_BYTES = 8_000_000


class ResponseTooLarge(httpx2.ReadError):
    """A provider response body larger than `max_response_bytes` (it was not read further)."""

    def __init__(self, limit: int, url: str, request: httpx2.Request | None = None) -> None:
        self.limit = limit
        super().__init__(
            f"the provider response from {url} is larger than max_response_bytes ({limit} bytes); not read further",
            request=request,
        )


class _CappedStream(httpx2.AsyncByteStream):
    """A response body that raises `ResponseTooLarge` once more than `limit` bytes have arrived."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, request: httpx2.Request) -> None:
        self._inner = inner
        self._limit = limit
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                await self.aclose()
                raise ResponseTooLarge(self._limit, _origin(self._request), self._request)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _origin(request: httpx2.Request) -> str:
    """Scheme, host and path of the request: never its query string (keys travel there at times)."""
    url = request.url
    return f"{url.scheme}://{url.host}{url.path}"


class LoopLocalTransport(httpx2.AsyncBaseTransport):
    """Creates the wrapped transport on first use in the running loop (and again when the loop changes)."""

    def __init__(
        self,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        wrapped: httpx2.AsyncBaseTransport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.limits = limits
        self.max_response_bytes = max_response_bytes
        self._fixed = wrapped
        """A transport given by the caller (tests, recording): used as is, on any loop."""
        self._transport: httpx2.AsyncBaseTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> httpx2.AsyncBaseTransport:
        if self._fixed is not None:
            return self._fixed
        loop = asyncio.get_running_loop()
        if self._transport is None or self._loop is not loop:
            # A pool from a closed loop cannot be closed from here; dropping it is all that is possible.
            self._transport = httpx2.AsyncHTTPTransport(limits=self.limits)
            self._loop = loop
        return self._transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._current().handle_async_request(request)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_response_bytes:  # refused before reading any of it
            await response.aclose()
            raise ResponseTooLarge(self.max_response_bytes, _origin(request), request)
        stream = response.stream
        if isinstance(stream, httpx2.AsyncByteStream):
            response.stream = _CappedStream(stream, self.max_response_bytes, request)
        return response

    async def aclose(self) -> None:
        transport, self._transport, self._loop = self._transport, None, None
        if transport is not None:
            await transport.aclose()
        if self._fixed is not None:
            await self._fixed.aclose()


def shared_client(
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> httpx2.AsyncClient:
    """The client every provider of one orchestrator uses. `transport` replaces the network (tests)."""
    capped = LoopLocalTransport(wrapped=transport, max_response_bytes=max_response_bytes)
    return httpx2.AsyncClient(transport=capped, timeout=timeout, follow_redirects=False)


def too_large_in(error: BaseException) -> ResponseTooLarge | None:
    """The `ResponseTooLarge` behind an SDK error (SDKs wrap transport errors as "connection error")."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ResponseTooLarge):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
