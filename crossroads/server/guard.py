"""The request guard: body size limit, bearer-key authentication and per-key rate/concurrency limits.

It is plain ASGI so it also protects the mounted MCP app, and it runs before any body is parsed.
Keys are compared in constant time and never logged: a key is known to logs and limiters only by a
short hash (`key_id`). The limits themselves are counted by a `Limiter` (`limits.py`): in this process,
or in Redis shared by every replica. `CommitBeforeReply` holds an answer's last byte until its trace is
committed, so a replica that dies after answering has lost nothing it answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossroads.server.errors import error_body
from crossroads.server.limits import Admission, Limiter, RateLimiter, RedisLimiter, build_limiter

if TYPE_CHECKING:
    from crossroads.storage import TraceStore

log = structlog.get_logger("crossroads.server")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
ANONYMOUS = "anonymous"


__all__ = ["Admission", "CommitBeforeReply", "Limiter", "RateLimiter", "RedisLimiter", "RequestGuard", "build_limiter"]


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class _TooLarge(Exception):
    pass


class RequestGuard:
    """ASGI middleware enforcing the limits above on every path except health checks and API docs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Iterable[str],
        max_body_bytes: int,
        limiter: Limiter,
        public_paths: Iterable[str] = (),
        public_prefixes: Iterable[str] = (),
    ) -> None:
        """`public_paths` and `public_prefixes` add paths served without a key (the web page's static files)."""
        self.app = app
        self._keys = [k.encode() for k in api_keys if k]
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter
        self._public = PUBLIC_PATHS | frozenset(public_paths)
        self._public_prefixes = tuple(public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "")
        request_id = uuid.uuid4().hex[:12]
        status_box: list[int] = [0]

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self._guarded(scope, receive, send_logged, headers, path)
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status_box[0],
                    duration_ms=round((time.perf_counter() - t0) * 1000, 1),
                )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], path: str) -> None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _reject(
                send, 413, f"the request body is larger than {self.max_body_bytes} bytes", "request_too_large"
            )
            return
        if path in self._public or (self._public_prefixes and path.startswith(self._public_prefixes)):
            await self.app(scope, receive, send)
            return
        who = self._authenticate(headers.get("authorization", ""))
        if who is None:
            await _reject(
                send,
                401,
                "missing or invalid API key: send it as 'Authorization: Bearer <key>'",
                "invalid_api_key",
                type="authentication_error",
                headers={"www-authenticate": "Bearer"},
            )
            return
        admission = await self.limiter.admit(who)
        if not admission.admitted:
            await _refuse(send, admission)
            return
        try:
            with structlog.contextvars.bound_contextvars(key_id=who):
                if scope.get("method") in {"POST", "PUT", "PATCH"}:
                    try:
                        body = await _read_body(receive, self.max_body_bytes)
                    except _TooLarge:
                        await _reject(
                            send,
                            413,
                            f"the request body is larger than {self.max_body_bytes} bytes",
                            "request_too_large",
                        )
                        return
                    receive = _replay(body, receive)
                await self.app(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled request still gives its slot back
                await self.limiter.leave(admission)

    def _authenticate(self, header: str) -> str | None:
        """The caller's key id, `anonymous` when no keys are configured, None when refused."""
        if not self._keys:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        match = None
        for key in self._keys:  # compare against every key: timing does not reveal which one matched
            if hmac.compare_digest(presented, key) and presented:
                match = key
        return key_id(match.decode()) if match is not None else None


async def _refuse(send: Send, admission: Admission) -> None:
    retry = max(1, math.ceil(admission.retry_after))
    if admission.unavailable:
        log.warning("limiter unavailable; request refused", key_id=admission.key)
        await _reject(
            send,
            503,
            "the shared rate limiter is unreachable; retry shortly",
            "limiter_unavailable",
            type="server_error",
            headers={"retry-after": str(retry)},
        )
        return
    log.info("rate limited", key_id=admission.key, retry_after=retry)
    await _reject(
        send,
        429,
        f"rate limit reached for this key; retry after {retry} s",
        "rate_limit_exceeded",
        type="rate_limit_error",
        headers={"retry-after": str(retry)},
    )


TRACE_HEADER = b"x-crossroads-trace-id"


class CommitBeforeReply:
    """ASGI middleware: a response carrying a trace id sends its last byte only once that trace is committed.

    The orchestrator submits a trace before the reply is written, and the store commits it a moment
    later on its writer thread. Without this barrier a replica killed in that moment loses traces of
    answers its clients already have; with it, "answered" implies "stored". The wait is one group
    commit (batches are shared by every concurrent request), bounded by `timeout`, after which the
    reply goes out anyway (logged): a slow database must not hold answers back for long.
    """

    def __init__(self, app: ASGIApp, *, store: Callable[[], TraceStore | None], timeout: float = 10.0) -> None:
        self.app = app
        self.store = store
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id: str | None = None

        async def send_when_committed(message: Message) -> None:
            nonlocal trace_id
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name.lower() == TRACE_HEADER:
                        trace_id = value.decode("latin-1")
            elif trace_id and message["type"] == "http.response.body" and not message.get("more_body", False):
                store = self.store()
                if store is not None and not await store.wait_committed(trace_id, self.timeout):
                    log.warning("trace not committed in time; replying anyway", trace_id=trace_id)
            await send(message)

        await self.app(scope, receive, send_when_committed)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reject(
    send: Send,
    status: int,
    message: str,
    code: str,
    *,
    type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> None:
    payload = json.dumps(error_body(message, type=type, code=code)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
