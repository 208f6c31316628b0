"""The one HTTP client all providers of an orchestrator share.

It is an httpx2 client (what the openai and anthropic SDKs use), with explicit timeouts and connection limits.

Provider SDK clients are built when the orchestrator is built, usually before any event loop runs, but a
connection pool belongs to the loop it first ran on. So the `httpx2.AsyncClient` itself holds no loop
state: its transport creates the real connection pool lazily, inside the running loop, and starts a new
one if a later call comes from another loop (e.g. `ask_sync` after `asyncio.run`). `aclose()` closes it.
"""

from __future__ import annotations

import asyncio

import httpx2

DEFAULT_TIMEOUT = httpx2.Timeout(90.0, connect=10.0)
"""Per HTTP attempt: connect within 10 s, and no read/write/pool wait longer than 90 s. The ask's wall time
limit (`settings.timeout`) bounds the whole run on top of this."""
DEFAULT_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30.0)


class LoopLocalTransport(httpx2.AsyncBaseTransport):
    """Creates the wrapped transport on first use in the running loop (and again when the loop changes)."""

    def __init__(
        self, limits: httpx2.Limits = DEFAULT_LIMITS, wrapped: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.limits = limits
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
        return await self._current().handle_async_request(request)

    async def aclose(self) -> None:
        transport, self._transport, self._loop = self._transport, None, None
        if transport is not None:
            await transport.aclose()
        if self._fixed is not None:
            await self._fixed.aclose()


def shared_client(
    transport: httpx2.AsyncBaseTransport | None = None, timeout: httpx2.Timeout = DEFAULT_TIMEOUT
) -> httpx2.AsyncClient:
    """The client every provider of one orchestrator uses. `transport` replaces the network (tests)."""
    return httpx2.AsyncClient(transport=LoopLocalTransport(wrapped=transport), timeout=timeout, follow_redirects=False)
