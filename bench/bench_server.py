"""Load test of the HTTP service: N chat completions at concurrency C on the offline model, over loopback.

    python bench/bench_server.py [-n 2000] [-c 50] [--workers 1] [--stream]
    python bench/bench_server.py --replicas 2 --store postgresql --redis [--limit 120]

One process (the default): starts `crossroads serve` on 127.0.0.1 (a free port, a fresh SQLite trace
store in a temp dir, a random API key, per-key limits off), sends the requests with httpx, stops the
server (which flushes its trace store) and counts the stored traces.

Replicas (`--replicas N`): N `crossroads serve` processes on N ports sharing one trace store
(`--store postgresql`: a throwaway PostgreSQL started from the Debian packages with its default
durability, or `--postgres-url`) and, with `--redis`, one Redis for the per-key limits (throwaway, or
`--redis-url`). The client splits the load round-robin across them, like a load balancer. Phases:

1. baseline: the same load on one process with SQLite and no Redis (skip with `--no-baseline`);
2. load: N requests at concurrency C across the replicas (limits on but high, so every request pays
   its Redis round trips); every answered trace id must be stored, exactly once;
3. kill: another N/2 requests; after a third of them one replica gets SIGKILL. Like a load balancer,
   the client retries a request whose connection failed on a surviving replica. Every answered trace
   of the whole run must still be stored (the replicas run with trace_commit = "before_reply");
4. limit: the replicas restarted with a limit of L per minute per key, 3L requests for one key
   spread over them: at most L may pass (once without Redis for contrast, then with it).

Prints what it measured; exits 1 if a check fails. Bounded: at most 20,000 requests per phase and
--time-limit seconds per phase (default 600); loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from crossroads.testing.services import Service

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How do I profile a slow Python loop and speed it up?",
    "How should I autoscale a model server on Kubernetes?",
    "What is the difference between precision and recall for an imbalanced classifier?",
    "How do I rotate database credentials without downtime?",
    "Why does my Rust borrow checker reject this mutable reference inside a loop?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    alive: bool = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(
    name: str, key: str, trace_db: str, workers: int, log: Path, extra_env: dict[str, str] | None = None
) -> Replica:
    port = _free_port()
    env = {
        **os.environ,
        "CROSSROADS_API_KEYS": key,
        "CROSSROADS_TRACE_DB": trace_db,
        "CROSSROADS_SERVER__RATE_LIMIT_PER_MINUTE": "0",
        "CROSSROADS_SERVER__MAX_CONCURRENT_PER_KEY": "0",
        "CROSSROADS_CONFIG": str(ROOT / "crossroads/config/defaults.toml"),
        **(extra_env or {}),
    }
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from crossroads.cli import main; main()",
                "--log-level",
                "warning",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    return Replica(name, port, proc, log)


def _wait_ready(replica: Replica, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.proc.poll() is not None:
            raise SystemExit(f"{replica.name} exited:\n{replica.log.read_text()}")
        try:
            if httpx.get(f"{replica.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{replica.name} did not become ready")


def _stop(replica: Replica) -> None:
    if replica.proc.poll() is not None:
        return
    replica.proc.send_signal(signal.SIGINT)  # graceful: the lifespan closes the orchestrator, flushing traces
    try:
        replica.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        replica.proc.kill()
        replica.proc.wait()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    per_replica: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    elapsed: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def summary(self) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return (
            f"throughput {self.answered / self.elapsed:.1f} req/s over {self.elapsed:.1f} s;"
            f" latency p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms;"
            f" errors {len(self.errors)}" + (f" (first: {self.errors[0]})" if self.errors else "")
        )


async def _load(
    replicas: list[Replica],
    key: str,
    n: int,
    concurrency: int,
    stream: bool,
    time_limit: float,
    *,
    kill_after: int | None = None,
    expect_limited: bool = False,
) -> LoadResult:
    """Send `n` requests round-robin over the live replicas; with `kill_after`, SIGKILL the last one then."""
    out = LoadResult()
    next_index = 0
    t_end = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=concurrency * len(replicas), max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits) as client:

        async def send(i: int, replica: Replica) -> httpx.Response:
            body = {
                "model": "crossroads",
                "stream": stream,
                "messages": [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"}],
            }
            return await client.post(f"{replica.base}/v1/chat/completions", json=body)

        def pick(i: int) -> Replica | None:
            live = [r for r in replicas if r.alive]
            return live[i % len(live)] if live else None

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            for attempt in range(len(replicas)):
                replica = pick(i + attempt)
                if replica is None:
                    out.errors.append("no replica alive")
                    return
                try:
                    response = await send(i, replica)
                except httpx.TransportError as exc:  # connection refused or reset: the replica is gone
                    if not replica.alive or replica.proc.poll() is not None:
                        replica.alive = False
                        out.retried += 1
                        continue
                    out.errors.append(f"{type(exc).__name__}: {exc}")
                    return
                break
            else:
                out.errors.append("every replica failed")
                return
            out.statuses[response.status_code] = out.statuses.get(response.status_code, 0) + 1
            text = response.text
            if response.status_code == 429 and expect_limited:
                return
            if response.status_code != 200:
                out.errors.append(f"{response.status_code}: {text[:200]}")
                return
            if stream and not text.rstrip().endswith("data: [DONE]"):
                out.errors.append("stream did not end with [DONE]")
                return
            try:
                if not stream:
                    assert json.loads(text)["choices"][0]["message"]["content"]
                out.trace_ids.append(response.headers["x-crossroads-trace-id"])
            except (KeyError, ValueError, AssertionError) as exc:
                out.errors.append(f"{type(exc).__name__}: {exc}")
                return
            out.latencies.append((time.perf_counter() - t0) * 1000)
            out.per_replica[replica.name] = out.per_replica.get(replica.name, 0) + 1
            if kill_after is not None and out.answered == kill_after:
                victim = replicas[-1]
                victim.proc.send_signal(signal.SIGKILL)
                victim.alive = False

        async def worker() -> None:
            nonlocal next_index
            while next_index < n and time.monotonic() < t_end:
                i = next_index
                next_index += 1
                await one(i)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        out.elapsed = time.perf_counter() - t0
    return out


def _sqlite_counts(db: Path) -> tuple[int, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM traces").fetchone()[0], conn.execute(
            "PRAGMA journal_mode"
        ).fetchone()[0]


def _pg_ids(url: str) -> tuple[list[str], int]:
    import psycopg

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT trace_id FROM traces").fetchall()]
        row = conn.execute("SELECT count(DISTINCT trace_id) FROM traces").fetchone()
    return ids, int(row[0]) if row else 0


def single(args: argparse.Namespace, n: int, concurrency: int, label: str = "") -> bool:
    """One `crossroads serve` on a fresh SQLite store: the original benchmark (and the baseline)."""
    key = "bench-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="crossroads-bench-") as tmp:
        db = Path(tmp) / "traces.db"
        replica = _start("single", key, str(db), args.workers, Path(tmp) / "server.log")
        try:
            _wait_ready(replica)
            result = asyncio.run(_load([replica], key, n, concurrency, args.stream, args.time_limit))
        finally:
            _stop(replica)
        server_log = replica.log.read_text(errors="replace")
        stored, mode = _sqlite_counts(db)
    print(
        f"{label}requests {result.answered + len(result.errors)} of {n} at concurrency {concurrency},"
        f" workers {args.workers}, {'streaming' if args.stream else 'non-streaming'}, offline model, loopback,"
        " SQLite trace store, per-process limits"
    )
    print(f"{label}{result.summary()}")
    distinct = len(set(result.trace_ids))
    print(
        f"{label}traces stored {stored} of {result.answered} answered ({distinct} distinct trace ids; journal {mode})"
    )
    ok = not result.errors and stored == result.answered
    if not ok:
        print("server log (tail):\n" + "\n".join(server_log.splitlines()[-15:]))
    return ok


@dataclass
class Shared:
    """The servers the replicas share."""

    trace_db: str
    redis_url: str | None
    stop: list[Service] = field(default_factory=list)


def _shared(args: argparse.Namespace, tmp: Path) -> Shared:
    from crossroads.testing.services import start_postgres, start_redis

    if args.store == "postgresql":
        pg_url = args.postgres_url
        if not pg_url:
            service = start_postgres(tmp / "postgres", durable=True)
            pg_url = service.url
            stops: list[Service] = [service]
        else:
            stops = []
    else:
        pg_url, stops = str(tmp / "traces.db"), []
    redis_url = None
    if args.redis:
        redis_url = args.redis_url
        if not redis_url:
            service = start_redis(tmp / "redis")
            redis_url = service.url
            stops.append(service)
    return Shared(pg_url, redis_url, stops)


def _replicas(args: argparse.Namespace, shared: Shared, key: str, tmp: Path, env: dict[str, str]) -> list[Replica]:
    extra = {"CROSSROADS_TRACE_COMMIT": args.trace_commit, **env}
    if shared.redis_url:
        extra["CROSSROADS_SERVER__REDIS_URL"] = shared.redis_url
    replicas = [
        _start(
            f"replica-{i + 1}",
            key,
            shared.trace_db,
            args.workers,
            tmp / f"replica-{i + 1}-{time.monotonic_ns()}.log",
            extra,
        )
        for i in range(args.replicas)
    ]
    for r in replicas:
        _wait_ready(r)
    return replicas


def _stored_ids(shared: Shared) -> tuple[list[str], int]:
    if shared.trace_db.startswith("postgresql://"):
        return _pg_ids(shared.trace_db)
    with sqlite3.connect(shared.trace_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT trace_id FROM traces").fetchall()]
    return ids, len(set(ids))


def _limit_phase(args: argparse.Namespace, shared: Shared, tmp: Path, with_redis: bool) -> int:
    key = "bench-limit-" + secrets.token_hex(8)
    env = {"CROSSROADS_SERVER__RATE_LIMIT_PER_MINUTE": str(args.limit)}
    used = Shared(shared.trace_db, shared.redis_url if with_redis else None)
    replicas = _replicas(args, used, key, tmp, env)
    try:
        result = asyncio.run(
            _load(replicas, key, 3 * args.limit, 10, False, min(args.time_limit, 50), expect_limited=True)
        )
    finally:
        for r in replicas:
            _stop(r)
    passed = result.statuses.get(200, 0)
    print(
        f"limit {args.limit}/min per key, {'Redis' if with_redis else 'no Redis (per process)'}:"
        f" {3 * args.limit} requests over {len(replicas)} replicas in {result.elapsed:.1f} s -> {passed} passed,"
        f" {result.statuses.get(429, 0)} refused (429), errors {len(result.errors)}"
    )
    return passed


def replicated(args: argparse.Namespace, n: int, concurrency: int) -> bool:
    ok = True
    if args.baseline:
        print("== baseline: one process, SQLite, no Redis")
        ok &= single(args, n, concurrency, "  ")
    redis = " + one Redis" if args.redis else ""
    print(f"== {args.replicas} replicas, one {args.store} trace store{redis}, trace_commit {args.trace_commit}")
    with tempfile.TemporaryDirectory(prefix="crossroads-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        shared = _shared(args, tmp)
        try:
            key = "bench-" + secrets.token_hex(16)
            high = {
                "CROSSROADS_SERVER__RATE_LIMIT_PER_MINUTE": "10000000",
                "CROSSROADS_SERVER__MAX_CONCURRENT_PER_KEY": "10000",
            }
            replicas = _replicas(args, shared, key, tmp, high if args.redis else {})
            try:
                load = asyncio.run(_load(replicas, key, n, concurrency, args.stream, args.time_limit))
                ids, distinct = _stored_ids(shared)
                answered = set(load.trace_ids)
                missing = answered - set(ids)
                print(
                    f"  load: {load.answered + len(load.errors)} of {n} requests at concurrency {concurrency},"
                    f" split {dict(sorted(load.per_replica.items()))}"
                )
                print(f"  load: {load.summary()}")
                print(
                    f"  load: traces stored {len(ids)} rows, {distinct} distinct, for {len(answered)} answered;"
                    f" answered but not stored {len(missing)}"
                )
                ok &= not load.errors and not missing and len(ids) == distinct == len(answered)
                if args.kill and len(replicas) >= 2:
                    kill_n = max(30, n // 2)
                    kill = asyncio.run(
                        _load(replicas, key, kill_n, concurrency, args.stream, args.time_limit, kill_after=kill_n // 3)
                    )
                    ids, distinct = _stored_ids(shared)
                    answered_all = answered | set(kill.trace_ids)
                    missing = answered_all - set(ids)
                    print(
                        f"  kill -9 {replicas[-1].name} after {kill_n // 3} of {kill_n} answers:"
                        f" answered {kill.answered}, split {dict(sorted(kill.per_replica.items()))},"
                        f" retried on a survivor {kill.retried}, errors {len(kill.errors)}"
                        + (f" (first: {kill.errors[0]})" if kill.errors else "")
                    )
                    print(
                        f"  kill: {kill.summary()}; every answer of the run stored:"
                        f" {len(answered_all) - len(missing)} of {len(answered_all)}"
                        f" ({len(ids)} rows, {distinct} distinct;"
                        f" {len(set(ids) - answered_all)} stored but never answered)"
                    )
                    ok &= not kill.errors and not missing and len(ids) == distinct
            finally:
                for r in replicas:
                    _stop(r)
                bad = [r for r in replicas if r.alive and r.proc.returncode not in (0, None)]
                for r in bad:
                    print(f"{r.name} log (tail):\n" + "\n".join(r.log.read_text(errors="replace").splitlines()[-15:]))
            if args.limit:
                if args.redis:
                    _limit_phase(args, shared, tmp, with_redis=False)
                    passed = _limit_phase(args, shared, tmp, with_redis=True)
                    ok &= passed <= args.limit
                else:
                    _limit_phase(args, shared, tmp, with_redis=False)
        finally:
            for service in shared.stop:
                service.stop()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="worker processes per server")
    parser.add_argument("--stream", action="store_true", help="use stream: true (SSE)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="stop sending after this many seconds")
    parser.add_argument("--replicas", type=int, default=1, help="crossroads serve processes sharing one store")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="share the per-key limits through Redis")
    parser.add_argument("--postgres-url", help="use this PostgreSQL (its traces table must be empty)")
    parser.add_argument("--redis-url", help="use this Redis instead of a throwaway one")
    parser.add_argument("--limit", type=int, default=120, help="per-key limit of the limit phase (0: skip it)")
    parser.add_argument(
        "--trace-commit", choices=["before_reply", "background"], default="before_reply", help="for the replicas"
    )
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="skip the kill -9 phase")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the SQLite baseline")
    args = parser.parse_args()
    n = max(1, min(args.requests, 20_000))
    concurrency = max(1, min(args.concurrency, 500))
    args.replicas = max(1, min(args.replicas, 8))
    args.limit = max(0, min(args.limit, 2000))
    if args.replicas == 1 and args.store == "sqlite" and not args.redis:
        ok = single(args, n, concurrency)
    else:
        ok = replicated(args, n, concurrency)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
