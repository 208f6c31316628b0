"""Load test of the HTTP service: N chat completions at concurrency C on the offline model, over loopback.

    /work/venv/bin/python bench/bench_server.py [-n 2000] [-c 50] [--workers 1] [--stream]

Starts `crossroads serve` on 127.0.0.1 (a free port, a fresh trace store in a temp dir, a random API
key, per-key rate limits off), sends the requests with httpx, stops the server (which flushes its
trace store) and counts the stored traces. Prints throughput, p50, p99, errors and traces stored.
Bounded: at most 20,000 requests and --time-limit seconds (default 600); loopback only.
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
from pathlib import Path

import httpx

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


def _start(port: int, key: str, db: Path, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CROSSROADS_API_KEYS": key,
        "CROSSROADS_TRACE_DB": str(db),
        "CROSSROADS_SERVER__RATE_LIMIT_PER_MINUTE": "0",
        "CROSSROADS_SERVER__MAX_CONCURRENT_PER_KEY": "0",
        "CROSSROADS_CONFIG": str(ROOT / "crossroads/config/defaults.toml"),
    }
    with log.open("wb") as fh:
        return subprocess.Popen(
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


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


async def _load(
    base: str, key: str, n: int, concurrency: int, stream: bool, time_limit: float
) -> tuple[list[float], list[str], int, float]:
    latencies: list[float] = []
    errors: list[str] = []
    trace_ids: set[str] = set()
    next_index = 0
    t_end = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits
    ) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < n and time.monotonic() < t_end:
                i = next_index
                next_index += 1
                body = {
                    "model": "crossroads",
                    "stream": stream,
                    "messages": [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"}],
                }
                t0 = time.perf_counter()
                try:
                    response = await client.post("/v1/chat/completions", json=body)
                    text = response.text
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {text[:200]}")
                        continue
                    if stream and not text.rstrip().endswith("data: [DONE]"):
                        errors.append("stream did not end with [DONE]")
                        continue
                    trace_ids.add(response.headers["x-crossroads-trace-id"])
                    if not stream:
                        assert json.loads(text)["choices"][0]["message"]["content"]
                except (httpx.HTTPError, KeyError, ValueError, AssertionError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return latencies, errors, len(trace_ids), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--stream", action="store_true", help="use stream: true (SSE)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="stop sending after this many seconds")
    args = parser.parse_args()
    n = max(1, min(args.requests, 20_000))
    concurrency = max(1, min(args.concurrency, 500))

    key = "bench-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="crossroads-bench-") as tmp:
        db, log, port = Path(tmp) / "traces.db", Path(tmp) / "server.log", _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _start(port, key, db, args.workers, log)
        try:
            _wait_ready(base, proc, log)
            latencies, errors, distinct, elapsed = asyncio.run(
                _load(base, key, n, concurrency, args.stream, args.time_limit)
            )
        finally:
            proc.send_signal(signal.SIGINT)  # graceful: the lifespan closes the orchestrator, flushing traces
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        server_log = log.read_text(errors="replace")
        with sqlite3.connect(db) as conn:
            stored = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    done = len(latencies)
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(
        f"requests {done + len(errors)} of {n} at concurrency {concurrency}, workers {args.workers},"
        f" {'streaming' if args.stream else 'non-streaming'}, offline model, loopback"
    )
    print(f"throughput {done / elapsed:.1f} req/s over {elapsed:.1f} s")
    print(f"latency p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms")
    print(f"errors {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"traces stored {stored} of {done} answered ({distinct} distinct trace ids; journal {mode})")
    if errors or stored != done:
        print("server log (tail):\n" + "\n".join(server_log.splitlines()[-15:]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
