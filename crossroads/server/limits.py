"""Per-key rate and concurrency limits: in this process, or shared by every worker and replica via Redis.

Both limiters count the same way, so switching Redis on changes where the counts live, not what a
limit means:

- **rate**: a sliding window. A key gets at most `per_minute` requests in any 60 seconds; a refused
  request is told how long until the oldest one in the window leaves it (`Retry-After`).
- **concurrency**: at most `max_concurrent` requests of a key in flight at once.

`RateLimiter` keeps the counts in this process (`crossroads serve --workers N` or N replicas let N
times the limit through). `RedisLimiter` keeps them in Redis (`server.redis_url`): one Lua script
checks and takes both limits atomically, with Redis's own clock, so replicas whose clocks differ still
agree. An in-flight request holds a *lease* (a member of a sorted set scored by its expiry, renewed
every `lease_seconds / 3` while the request runs) rather than a bare counter: a replica killed with
requests in flight leaves leases that expire after `lease_seconds`, while a counter would stay
raised for as long as the other replicas keep the key busy.

When Redis cannot be reached (`server.redis_failure`): `open` (the default) falls back to this
process's own `RateLimiter` until Redis answers again, so the service stays up with per-process
limits; `closed` refuses requests with 503 instead. After a failure Redis is retried at most once a
second, so an outage costs one `redis_timeout` per second, not one per request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

if TYPE_CHECKING:
    from crossroads.config.settings import ServerSettings

log = structlog.get_logger("crossroads.server")

WINDOW_SECONDS = 60.0
LEASE_SECONDS = 30.0
RETRY_REDIS_AFTER = 1.0


@dataclass(frozen=True)
class Admission:
    """The answer to one request for a slot; hand it back to `leave` when the request is done."""

    admitted: bool
    key: str
    retry_after: float = 0.0
    """Seconds until a retry may be admitted (when refused)."""
    lease: str | None = None
    """The Redis lease this request holds, if any."""
    local: bool = False
    """Counted by this process's own limiter (no Redis, or Redis unreachable)."""
    unavailable: bool = False
    """Refused because the shared limiter is unreachable and `redis_failure = "closed"`."""


class Limiter(Protocol):
    """What the request guard needs of a limiter."""

    async def admit(self, key: str) -> Admission: ...

    async def leave(self, admission: Admission) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class _Window:
    stamps: deque[float] = field(default_factory=deque)
    in_flight: int = 0


@dataclass
class RateLimiter:
    """This process's limits: a sliding window of `per_minute` requests and `max_concurrent` in flight."""

    per_minute: int
    max_concurrent: int
    window: float = WINDOW_SECONDS
    _windows: dict[str, _Window] = field(default_factory=dict)

    def acquire(self, key: str, now: float | None = None) -> float | None:
        """Take a slot for `key`; None on success, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        w = self._windows.setdefault(key, _Window())
        if self.max_concurrent and w.in_flight >= self.max_concurrent:
            return 1.0
        if self.per_minute:
            while w.stamps and w.stamps[0] <= now - self.window:
                w.stamps.popleft()
            if len(w.stamps) >= self.per_minute:
                return w.stamps[0] + self.window - now
            w.stamps.append(now)
        w.in_flight += 1
        return None

    def release(self, key: str) -> None:
        w = self._windows.get(key)
        if w is not None and w.in_flight > 0:
            w.in_flight -= 1

    async def admit(self, key: str) -> Admission:
        wait = self.acquire(key)
        return Admission(admitted=wait is None, key=key, retry_after=wait or 0.0, local=True)

    async def leave(self, admission: Admission) -> None:
        if admission.admitted:
            self.release(admission.key)

    async def aclose(self) -> None:
        return None


# KEYS: rate window, leases. ARGV: per_minute, max_concurrent, window ms, lease ms, request id.
# Returns {1, 0} when admitted, {0, wait ms} when refused.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, maxc = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxc then
    return {0, 1000}
  end
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if redis.call('ZCARD', KEYS[1]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, math.max(1, tonumber(oldest[2]) + window - now)}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
end
if maxc > 0 then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], lease)
end
return {1, 0}
"""

# KEYS: leases. ARGV: lease ms, then the request ids whose leases are renewed.
_RENEW = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


class RedisLimiter:
    """Limits shared through Redis by every process that uses the same `url` (see the module doc)."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        max_concurrent: int,
        *,
        failure: Literal["open", "closed"] = "open",
        timeout: float = 2.0,
        lease_seconds: float = LEASE_SECONDS,
        prefix: str = "crossroads:limits:",
    ) -> None:
        self.url = url
        self.per_minute = per_minute
        self.max_concurrent = max_concurrent
        self.failure = failure
        self.timeout = timeout
        self.lease_ms = int(lease_seconds * 1000)
        self.prefix = prefix
        self.local = RateLimiter(per_minute, max_concurrent)
        """Used while Redis is unreachable and `failure = "open"`."""
        self._client: Any = None
        self._admit: Any = None
        self._renew: Any = None
        self._down_until = 0.0
        self._down = False
        self._held: dict[str, str] = {}
        self._renewer: asyncio.Task[None] | None = None

    def _keys(self, key: str) -> list[str]:
        tag = "{" + key + "}"  # one hash slot per key, so the script's two keys work on Redis Cluster too
        return [f"{self.prefix}{tag}:rate", f"{self.prefix}{tag}:leases"]

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
                max_connections=256,
            )
            self._admit = self._client.register_script(_ADMIT)
            self._renew = self._client.register_script(_RENEW)
        return self._client

    async def admit(self, key: str) -> Admission:
        if not (self.per_minute or self.max_concurrent):
            return Admission(admitted=True, key=key)
        if time.monotonic() < self._down_until:
            return self._fallback(key)
        request_id = uuid.uuid4().hex
        try:
            self._redis()
            ok, wait_ms = await asyncio.wait_for(
                self._admit(
                    keys=self._keys(key),
                    args=[self.per_minute, self.max_concurrent, int(WINDOW_SECONDS * 1000), self.lease_ms, request_id],
                ),
                self.timeout * 2,
            )
        except Exception as exc:  # redis errors, OSError, timeouts: all mean "unreachable" here
            self._mark_down(exc)
            return self._fallback(key)
        self._mark_up()
        if not int(ok):
            return Admission(admitted=False, key=key, retry_after=int(wait_ms) / 1000)
        if not self.max_concurrent:
            return Admission(admitted=True, key=key)
        self._held[request_id] = key
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_leases())
        return Admission(admitted=True, key=key, lease=request_id)

    def _fallback(self, key: str) -> Admission:
        if self.failure == "closed":
            return Admission(admitted=False, key=key, retry_after=RETRY_REDIS_AFTER, unavailable=True)
        wait = self.local.acquire(key)
        return Admission(admitted=wait is None, key=key, retry_after=wait or 0.0, local=True)

    def _mark_down(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + RETRY_REDIS_AFTER
        if not self._down:
            self._down = True
            then = "limits are per process" if self.failure == "open" else "requests are refused (503)"
            log.warning("redis unreachable; " + then + " until it answers", error=str(exc) or type(exc).__name__)

    def _mark_up(self) -> None:
        if self._down:
            self._down = False
            log.warning("redis reachable again; limits are shared")

    async def leave(self, admission: Admission) -> None:
        if not admission.admitted:
            return
        if admission.local:
            self.local.release(admission.key)
            return
        if admission.lease is None:
            return
        self._held.pop(admission.lease, None)
        try:
            await asyncio.wait_for(self._redis().zrem(self._keys(admission.key)[1], admission.lease), self.timeout * 2)
        except Exception as exc:  # the lease then expires by itself after lease_seconds
            self._mark_down(exc)

    async def _renew_leases(self) -> None:
        """Keep the leases of this process's in-flight requests alive; ends when none are held."""
        while self._held:
            await asyncio.sleep(self.lease_ms / 3000)
            by_key: dict[str, list[str]] = {}
            for request_id, key in list(self._held.items()):
                by_key.setdefault(key, []).append(request_id)
            for key, ids in by_key.items():
                try:
                    await asyncio.wait_for(
                        self._renew(keys=[self._keys(key)[1]], args=[self.lease_ms, *ids]), self.timeout * 2
                    )
                except Exception as exc:
                    self._mark_down(exc)

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.aclose()
            except Exception:  # closing a client whose server is gone
                pass


def build_limiter(settings: ServerSettings) -> Limiter:
    """`RedisLimiter` when `redis_url` is set, else this process's `RateLimiter`."""
    if settings.redis_url:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            from crossroads.errors import ConfigError

            raise ConfigError("server.redis_url needs the redis extra: pip install 'crossroads[redis]'") from None
        return RedisLimiter(
            settings.redis_url,
            settings.rate_limit_per_minute,
            settings.max_concurrent_per_key,
            failure=settings.redis_failure,
            timeout=settings.redis_timeout,
        )
    return RateLimiter(settings.rate_limit_per_minute, settings.max_concurrent_per_key)
