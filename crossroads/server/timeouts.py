"""Read deadlines for clients that send slowly: a bound on the request head and on the request body.

uvicorn bounds neither: its keep-alive timer runs only *between* requests, and any byte received
cancels it, so a client that connects and sends nothing, or trickles its headers or its body, holds a
connection (and, for a body, a request slot) for ever. Two small pieces close that:

- `ReadTimeoutH11Protocol`, uvicorn's h11 protocol with a **header deadline**
  (`server.header_timeout`): armed when a connection opens and when a new request's first byte arrives
  on a kept-alive one, disarmed when the head is complete. On expiry the client gets a bare
  `408 Request Timeout` and the connection is closed.
- `BodyReadDeadline`, ASGI middleware with a **body deadline** (`server.body_timeout`) from the moment
  the app first asks for the body: a body not complete by then is a 408 in OpenAI's error shape (code
  `request_timeout`; OpenAI clients retry 408). It is its own middleware, outside the request guard,
  so the guard's own logic (keys, limits) stays separate.

The head size is bounded by h11 (`server.max_header_bytes`, passed as uvicorn's
`h11_max_incomplete_event_size`) and idle kept-alive connections by `server.keep_alive_timeout`.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, ClassVar

import h11
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from crossroads.config.settings import ServerSettings
from crossroads.server.errors import error_body

log = structlog.get_logger("crossroads.server")

HEADER_TIMEOUT_ENV = "CROSSROADS_SERVE_HEADER_TIMEOUT"
"""How `crossroads serve` hands `server.header_timeout` to the protocol in every worker process."""


def _raw_408(message: str) -> bytes:
    """A whole 408 response in OpenAI's error shape, as bytes (no request was parsed to answer through h11)."""
    body = json.dumps(error_body(message, type="invalid_request_error", code="request_timeout")).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for receiving each request's head (see module doc)."""

    header_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        configured = os.environ.get(HEADER_TIMEOUT_ENV)
        self._header_timeout = float(configured) if configured else self.header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_timer is None:  # the first bytes of a request on a kept-alive connection
                self._arm_header_timer()
        else:  # the head is complete (h11 moved on to the body or the next state)
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        log.info("request.header_timeout", timeout_s=self._header_timeout)
        message = f"the request headers were not received within {self._header_timeout:g} s"
        self.transport.write(_raw_408(message))  # h11 cannot send a response before a request: raw bytes
        self.transport.close()


class _BodyTimedOut(Exception):
    pass


class BodyReadDeadline:
    """ASGI middleware: the request body must arrive within `seconds` of the app asking for it."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: list[float] = []
        body_done = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body only a disconnect can come: waiting for it is not reading
                return await receive()
            if not deadline:
                deadline.append(loop.time() + self.seconds)
            try:
                async with asyncio.timeout_at(deadline[0]):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except _BodyTimedOut:
            log.info("request.body_timeout", path=scope.get("path"), timeout_s=self.seconds)
            if started:  # nothing better can be done once a response started: the server closes it
                raise
            await _send_408(send, f"the request body was not received within {self.seconds:g} s")


async def _send_408(send: Send, message: str) -> None:
    payload = json.dumps(error_body(message, type="invalid_request_error", code="request_timeout")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    """The uvicorn settings from `ServerSettings`: the protocol above, keep-alive and head-size limits."""
    os.environ[HEADER_TIMEOUT_ENV] = repr(float(server.header_timeout))  # read in every worker process
    return {
        "http": ReadTimeoutH11Protocol,
        "timeout_keep_alive": server.keep_alive_timeout,
        "h11_max_incomplete_event_size": server.max_header_bytes,
    }
