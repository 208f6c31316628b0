"""The request guard: body size limit, bearer-key authentication and per-key rate/concurrency limits.

It is plain ASGI so it also protects the mounted MCP app, and it runs before any body is parsed.
Keys are compared in constant time and never logged: a key is known to logs and limiters only by a
short hash (`key_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossroads.server.errors import error_body

log = structlog.get_logger("crossroads.server")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
ANONYMOUS = "anonymous"


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class _Bucket:
    tokens: float
    updated: float
    in_flight: int = 0


@dataclass
class RateLimiter:
    """Token bucket per key (`per_minute` requests, burst of the same size) plus an in-flight cap."""

    per_minute: int
    max_concurrent: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def acquire(self, key: str, now: float | None = None) -> float | None:
        """Take a slot for `key`; None on success, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(key, _Bucket(tokens=float(self.per_minute), updated=now))
        if self.max_concurrent and bucket.in_flight >= self.max_concurrent:
            return 1.0
        if self.per_minute:
            rate = self.per_minute / 60.0
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return (1.0 - bucket.tokens) / rate
            bucket.tokens -= 1.0
        bucket.in_flight += 1
        return None

    def release(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.in_flight > 0:
            bucket.in_flight -= 1


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
        limiter: RateLimiter,
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
        wait = self.limiter.acquire(who)
        if wait is not None:
            retry = max(1, math.ceil(wait))
            log.info("rate limited", key_id=who, retry_after=retry)
            await _reject(
                send,
                429,
                f"rate limit reached for this key; retry after {retry} s",
                "rate_limit_exceeded",
                type="rate_limit_error",
                headers={"retry-after": str(retry)},
            )
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
            self.limiter.release(who)

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
