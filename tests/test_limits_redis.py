"""Per-key limits: the in-process sliding window, the Redis limiter shared by two instances (two
replicas), leases that expire when a replica dies, Redis down (open and closed), and two real HTTP
services on one Redis; plus the commit-before-reply barrier."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import API_KEY, running, server_settings
from storage_support import redis_url  # noqa: F401  (fixture)

from crossroads.server.limits import Admission, RateLimiter, RedisLimiter, build_limiter
from crossroads.storage.base import TraceRow
from crossroads.storage.sqlite import SQLiteTraceStore
from crossroads.testing.services import free_port

pytestmark = pytest.mark.anyio


def test_in_process_window_is_sliding() -> None:
    limiter = RateLimiter(per_minute=3, max_concurrent=0)
    assert [limiter.acquire("k", now=t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert limiter.acquire("k", now=3.0) == pytest.approx(57.0)  # until the request at t=0 leaves the window
    assert limiter.acquire("k", now=59.9) == pytest.approx(0.1)
    assert limiter.acquire("k", now=60.0) is None  # one left, one in
    assert limiter.acquire("k", now=60.5) == pytest.approx(0.5)
    assert limiter.acquire("other", now=60.5) is None


def _limiter(url: str, prefix: str, **kw: object) -> RedisLimiter:
    return RedisLimiter(url, kw.pop("per_minute", 0), kw.pop("max_concurrent", 0), prefix=prefix, **kw)  # type: ignore[arg-type]


@pytest.fixture
def prefix() -> str:
    return f"crossroads-test:{uuid.uuid4().hex[:8]}:"


async def test_two_replicas_share_one_rate_window(redis_url: str, prefix: str) -> None:  # noqa: F811
    one, two = _limiter(redis_url, prefix, per_minute=20), _limiter(redis_url, prefix, per_minute=20)
    try:
        admissions = await asyncio.gather(*(lim.admit("key-a") for _ in range(40) for lim in (one, two)))
        admitted = [a for a in admissions if a.admitted]
        assert len(admitted) == 20 and not any(a.local for a in admissions)
        refused = [a for a in admissions if not a.admitted]
        assert all(0 < a.retry_after <= 60 for a in refused)
        assert (await one.admit("key-b")).admitted  # per key
        for a in admitted:
            await (one if a in admissions[::2] else two).leave(a)
    finally:
        await one.aclose()
        await two.aclose()


async def test_two_replicas_share_one_concurrency_cap(redis_url: str, prefix: str) -> None:  # noqa: F811
    one, two = _limiter(redis_url, prefix, max_concurrent=3), _limiter(redis_url, prefix, max_concurrent=3)
    try:
        held = [await one.admit("k"), await two.admit("k"), await two.admit("k")]
        assert all(a.admitted and a.lease for a in held)
        assert not (await one.admit("k")).admitted and not (await two.admit("k")).admitted
        await two.leave(held[1])
        again = await one.admit("k")
        assert again.admitted
        assert not (await two.admit("k")).admitted
        for lim, a in ((one, held[0]), (two, held[2]), (one, again)):
            await lim.leave(a)
        assert all([(await one.admit("k")).admitted for _ in range(3)])
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_killed_replica_does_not_leak_slots(redis_url: str, prefix: str) -> None:  # noqa: F811
    """A replica dies holding every slot: the survivor is refused until the leases expire, not forever,
    although it keeps the key busy the whole time (a bare counter with a TTL would never expire)."""
    doomed = _limiter(redis_url, prefix, max_concurrent=2, lease_seconds=1.0)
    survivor = _limiter(redis_url, prefix, max_concurrent=2, lease_seconds=1.0)
    try:
        assert (await doomed.admit("k")).admitted and (await doomed.admit("k")).admitted
        assert doomed._renewer is not None
        doomed._renewer.cancel()  # kill -9: no more renewals, no release
        t0 = time.monotonic()
        while not (got := await survivor.admit("k")).admitted:
            assert time.monotonic() - t0 < 5, "leases of the dead replica never expired"
            await asyncio.sleep(0.05)
        assert 0.5 < time.monotonic() - t0 < 2.5
        await survivor.leave(got)
    finally:
        await survivor.aclose()
        await doomed.aclose()


async def test_leases_of_live_requests_are_renewed(redis_url: str, prefix: str) -> None:  # noqa: F811
    holder = _limiter(redis_url, prefix, max_concurrent=1, lease_seconds=0.6)
    other = _limiter(redis_url, prefix, max_concurrent=1, lease_seconds=0.6)
    try:
        slot = await holder.admit("k")
        assert slot.admitted
        await asyncio.sleep(1.5)  # well past one lease: renewed meanwhile
        assert not (await other.admit("k")).admitted
        await holder.leave(slot)
        assert (await other.admit("k")).admitted
    finally:
        await holder.aclose()
        await other.aclose()


async def test_redis_down_fails_open_to_local_limits_or_closed() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    opened = RedisLimiter(dead, per_minute=2, max_concurrent=0, failure="open", timeout=0.2)
    closed = RedisLimiter(dead, per_minute=2, max_concurrent=0, failure="closed", timeout=0.2)
    try:
        got = [await opened.admit("k") for _ in range(3)]
        assert [a.admitted for a in got] == [True, True, False] and all(a.local for a in got)
        for a in got:
            await opened.leave(a)
        refused = await closed.admit("k")
        assert not refused.admitted and refused.unavailable and refused.retry_after >= 1
        t0 = time.monotonic()
        for _ in range(20):  # within the retry interval Redis is not asked again: no timeout paid
            await closed.admit("k")
        assert time.monotonic() - t0 < 0.2
    finally:
        await opened.aclose()
        await closed.aclose()


def test_build_limiter_picks_redis_only_with_a_url() -> None:
    from crossroads.config.settings import ServerSettings

    assert isinstance(build_limiter(ServerSettings.model_validate({})), RateLimiter)
    shared = build_limiter(
        ServerSettings.model_validate({"redis_url": "redis://127.0.0.1:1/0", "redis_failure": "closed"})
    )
    assert isinstance(shared, RedisLimiter) and shared.failure == "closed"


async def test_two_http_replicas_on_one_redis_let_through_the_limit_once(
    tmp_path: Path,
    redis_url: str,  # noqa: F811
    fake_toolbox: Any,
) -> None:
    """Two real services (own uvicorn, own orchestrator, own limiter) with a limit of 5 per minute."""
    from crossroads.orchestrator import Orchestrator
    from crossroads.server import create_app

    settings = server_settings(tmp_path, rate_limit_per_minute=5, max_concurrent_per_key=0, redis_url=redis_url)
    # A key no other test run used, so the window starts empty even on a shared Redis.
    key = f"sk-{uuid.uuid4().hex}"
    settings.server.api_keys = [*settings.server.api_keys, type(settings.server.api_keys[0])(key)]
    orchestrators = [Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) for _ in range(2)]
    statuses: list[int] = []
    try:
        with (
            running(create_app(settings, orchestrator=orchestrators[0])) as a,
            running(create_app(settings, orchestrator=orchestrators[1])) as b,
        ):
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                for i in range(12):
                    r = await client.post(f"{(a, b)[i % 2]}/v1/route", json={"question": "How do I shard Postgres?"})
                    statuses.append(r.status_code)
                    if r.status_code == 429:
                        assert int(r.headers["retry-after"]) >= 1
                        assert r.json()["error"]["code"] == "rate_limit_exceeded"
                other = await client.post(
                    f"{a}/v1/route", json={"question": "q?"}, headers={"Authorization": f"Bearer {API_KEY}"}
                )
                assert other.status_code == 200  # another key has its own window
    finally:
        for orch in orchestrators:
            await orch.aclose()
    assert statuses.count(200) == 5 and statuses.count(429) == 7


class _SlowStore(SQLiteTraceStore):
    """Commits take 0.4 s: long enough to see whether a reply waited for its trace."""

    def _write(self, rows: Sequence[TraceRow]) -> None:
        time.sleep(0.4)
        super()._write(rows)


@pytest.mark.parametrize("commit", ["before_reply", "background"])
async def test_commit_before_reply_holds_the_answer_until_stored(
    tmp_path: Path, fake_toolbox: Any, commit: str
) -> None:
    from crossroads.config import load_settings
    from crossroads.config.settings import PACKAGED_DEFAULTS
    from crossroads.orchestrator import Orchestrator
    from crossroads.server import create_app

    settings = load_settings(
        PACKAGED_DEFAULTS, trace_db=str(tmp_path / "t.db"), trace_commit=commit, server={"api_keys": [API_KEY]}
    )
    store = _SlowStore(tmp_path / "t.db")
    orch = Orchestrator(settings, toolbox=fake_toolbox, trace_store=store)
    reader = SQLiteTraceStore(tmp_path / "t.db")
    try:
        with running(create_app(settings, orchestrator=orch)) as url:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
                for path, body in [
                    ("/v1/ask", {"question": "How do I profile a slow Python loop?"}),
                    (
                        "/v1/chat/completions",
                        {"model": "crossroads", "messages": [{"role": "user", "content": "Why is my Rust loop slow?"}]},
                    ),
                    (
                        "/v1/chat/completions",
                        {
                            "model": "crossroads",
                            "stream": True,
                            "messages": [{"role": "user", "content": "How do I tune Postgres?"}],
                        },
                    ),
                ]:
                    r = await client.post(url + path, json=body)
                    assert r.status_code == 200, r.text
                    stored = reader.get(r.headers["x-crossroads-trace-id"])  # a fresh reader, no flush
                    assert (stored is not None) is (commit == "before_reply"), path
    finally:
        await orch.aclose()
        store.close()
        reader.close()


def test_admission_is_a_plain_value() -> None:
    a = Admission(admitted=True, key="k")
    assert not a.local and a.lease is None and a.retry_after == 0.0
