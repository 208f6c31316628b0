"""Time to first token vs total time, against a loopback fake provider that streams at a fixed pace.

    python bench/bench_stream.py [--tokens 200] [--delay-ms 20] [--first-token-ms 0] [--runs 5] [--no-http]

A fake OpenAI-compatible provider (starlette + uvicorn, in its own process on 127.0.0.1) answers every
`/v1/chat/completions` request with `--tokens` tokens, one every `--delay-ms` (the first after one
delay too, plus `--first-token-ms` of think time, 0 by default); plain requests get the whole text
after the same time. crossroads runs every role on it
(`openai-compatible:fake`, local routing, no trace store) and the script measures, as medians of
`--runs` warm runs:

- the provider's own first token and total, with a plain streaming HTTP client (the baseline);
- routing alone (`Orchestrator.route`);
- crossroads' first `text_delta` and `done` in process (`Orchestrator.stream`): a single-domain ask with
  the specialist fixed (`agent=`), the same routed, and a multi-domain ask (its specialists answer with
  plain requests, then the synthesiser streams);
- the same over HTTP through `crossroads serve` (a subprocess): `/v1/ask/stream` (first `text_delta`
  event) and `/v1/chat/completions` with `stream: true` (first content chunk).

Ratios are against the provider's own first token plus routing (routing is 0 for `agent=`). The target:
a single-domain ask's first token within 1.5x of that. Exits 1 if the in-process single-domain
figures miss it. Loopback only; bounded by --runs and the token count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SINGLE = "How do I set up a Kubernetes HorizontalPodAutoscaler for my pods?"
MULTI = (
    "How should I deploy a fine-tuned LLM behind an autoscaled API on Kubernetes, and which metrics do I monitor"
    " for drift?"
)
TARGET = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the fake provider ---------------------------------------------------------------------------------


def fake_provider_app(tokens: int, delay: float, think: float = 0.0) -> Any:
    """A starlette app speaking OpenAI's chat completions: streamed at a fixed pace, or whole after it."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    words = [f"tok{i} " for i in range(tokens)]

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1735689600,
            "model": "fake",
            "choices": [] if extra.get("usage") else [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    async def completions(request: Request) -> Any:
        body = await request.json()
        usage = {"prompt_tokens": 1000, "completion_tokens": tokens, "total_tokens": 1000 + tokens}
        if not body.get("stream"):
            await asyncio.sleep(think + delay * tokens)
            message = {"role": "assistant", "content": "".join(words)}
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 1735689600,
                    "model": "fake",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage,
                }
            )

        async def sse() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            await asyncio.sleep(think)
            for word in words:
                await asyncio.sleep(delay)
                yield chunk({"content": word})
            yield chunk({}, "stop")
            yield chunk({}, usage=usage)
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def serve_fake(port: int, tokens: int, delay: float, think: float) -> None:
    import uvicorn

    uvicorn.run(fake_provider_app(tokens, delay, think), host="127.0.0.1", port=port, log_level="warning")


def wait_for_port(port: int, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# -- measuring -------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """First token and total of one run, in ms."""

    first: float
    total: float


def median(values: list[Timing]) -> Timing:
    return Timing(statistics.median(t.first for t in values), statistics.median(t.total for t in values))


async def provider_baseline(base: str, runs: int) -> Timing:
    """The provider's own first content chunk and end, through a plain streaming client (kept alive)."""
    body = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": SINGLE}]}
    timings = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            first = None
            async with client.stream("POST", f"{base}/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if first is None and '"content": "tok' in line:
                        first = time.perf_counter()
            timings.append(Timing((first or t0) * 1000 - t0 * 1000, (time.perf_counter() - t0) * 1000))
    return median(timings[1:])  # the first run opens the connection


async def bare_agent(base: str, runs: int) -> Timing:
    """A bare pydantic-ai agent streaming from the same provider: the floor any pydantic-ai app pays."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.openai import OpenAIModelProfile
    from pydantic_ai.providers.openai import OpenAIProvider

    profile = OpenAIModelProfile(openai_supports_strict_tool_definition=False)
    model = OpenAIChatModel("fake", provider=OpenAIProvider(base_url=base, api_key="x"), profile=profile)
    agent = Agent(model, instructions="Answer the question.", model_settings={"max_retries": 0})
    timings = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        first = None
        async with agent.run_stream(SINGLE) as result:
            async for _delta in result.stream_text(delta=True, debounce_by=None):
                if first is None:
                    first = time.perf_counter()
        timings.append(Timing((first or t0) * 1000 - t0 * 1000, (time.perf_counter() - t0) * 1000))
    return median(timings[1:])


async def in_process(base: str, runs: int) -> dict[str, Timing]:
    from crossroads.config import load_settings
    from crossroads.orchestrator import Orchestrator

    settings = load_settings(model="openai-compatible:fake", base_url=base, trace_db="off", router={"mode": "local"})
    results: dict[str, Timing] = {}
    async with Orchestrator(settings) as crossroads:
        crossroads.prepare()
        routes = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            await crossroads.route(SINGLE)
            routes.append((time.perf_counter() - t0) * 1000)
        results["routing"] = Timing(statistics.median(routes[1:]), statistics.median(routes[1:]))
        for name, question, agent in [
            ("single, agent= fixed", SINGLE, "cloud-infra"),
            ("single, routed", SINGLE, None),
            ("multi-domain", MULTI, None),
        ]:
            timings = []
            for _ in range(runs + 1):  # one warm-up run each
                t0 = time.perf_counter()
                first = None
                async for event in crossroads.stream(question, agent=agent):
                    if first is None and event.type == "text_delta":
                        first = time.perf_counter()
                    elif event.type == "error":
                        raise RuntimeError(f"{name}: {event.message}")
                    elif event.type == "done" and len(event.result.route.agents) < (2 if "multi" in name else 1):
                        raise RuntimeError(f"{name}: routed to {event.result.route.agents}")
                timings.append(Timing((first or t0) * 1000 - t0 * 1000, (time.perf_counter() - t0) * 1000))
            results[name] = median(timings[1:])
    return results


async def over_http(url: str, key: str, runs: int) -> dict[str, Timing]:
    headers = {"Authorization": f"Bearer {key}"}
    cases = [
        ("HTTP /v1/ask/stream, single routed", "/v1/ask/stream", {"question": SINGLE}, "event: text_delta"),
        (
            "HTTP chat/completions stream, single routed",
            "/v1/chat/completions",
            {"model": "crossroads", "stream": True, "messages": [{"role": "user", "content": SINGLE}]},
            '"content": "tok',
        ),
        ("HTTP /v1/ask/stream, multi-domain", "/v1/ask/stream", {"question": MULTI}, "event: text_delta"),
    ]
    results: dict[str, Timing] = {}
    async with httpx.AsyncClient(timeout=120, headers=headers) as client:
        for name, path, body, marker in cases:
            timings = []
            for _ in range(runs + 1):
                t0 = time.perf_counter()
                first = None
                async with client.stream("POST", url + path, json=body) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        if first is None and marker in line:
                            first = time.perf_counter()
                timings.append(Timing((first or t0) * 1000 - t0 * 1000, (time.perf_counter() - t0) * 1000))
            results[name] = median(timings[1:])
    return results


def start_serve(base: str, tmp: Path, key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "CROSSROADS_MODEL": "openai-compatible:fake",
        "CROSSROADS_BASE_URL": base,
        "CROSSROADS_ROUTER__MODE": "local",
        "CROSSROADS_API_KEYS": key,
        "CROSSROADS_TRACE_DB": str(tmp / "traces.sqlite3"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
    }
    cli = Path(sys.executable).parent / "crossroads"
    process = subprocess.Popen(
        [str(cli), "serve", "--port", str(port), "--no-ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for_port(port, 60)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # ready once the orchestrator is loaded
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return process, url


def report(provider: Timing, bare: Timing, rows: dict[str, Timing], routing: float) -> bool:
    """Print the table; True when every single-domain in-process row meets the target."""
    print(f"{'':46} {'first token':>12} {'total':>10} {'ratio':>7}")
    print(f"{'provider alone (baseline)':46} {provider.first:>10.1f}ms {provider.total:>8.0f}ms {'1.00':>7}")
    bare_ratio = bare.first / provider.first if provider.first else float("inf")
    print(
        f"{'bare pydantic-ai agent, streamed (floor)':46} {bare.first:>10.1f}ms {bare.total:>8.0f}ms {bare_ratio:>7.2f}"
    )
    print(f"{'routing alone':46} {routing:>10.1f}ms")
    ok = True
    for name, timing in rows.items():
        base = provider.first + (0.0 if "fixed" in name else routing)
        ratio = timing.first / base if base else float("inf")
        mark = ""
        if name.startswith("single"):
            mark = "  ok" if ratio <= TARGET else f"  MISSES {TARGET}x"
            ok = ok and ratio <= TARGET
        print(f"{name:46} {timing.first:>10.1f}ms {timing.total:>8.0f}ms {ratio:>7.2f}{mark}")
    return ok


def main(args: argparse.Namespace) -> int:
    fake_port = _free_port()
    command = [sys.executable, __file__, "--fake-provider", str(fake_port), "--tokens", str(args.tokens)]
    command += ["--delay-ms", str(args.delay_ms), "--first-token-ms", str(args.first_token_ms)]
    fake = subprocess.Popen(command)
    base = f"http://127.0.0.1:{fake_port}/v1"
    serve: subprocess.Popen[bytes] | None = None
    try:
        wait_for_port(fake_port)
        think = f", first token after {args.first_token_ms:g} ms more" if args.first_token_ms else ""
        print(f"fake provider: {args.tokens} tokens at {args.delay_ms:g} ms/token{think}; medians of {args.runs} runs")
        provider = asyncio.run(provider_baseline(base, args.runs))
        bare = asyncio.run(bare_agent(base, args.runs))
        rows = asyncio.run(in_process(base, args.runs))
        routing = rows.pop("routing").first
        if not args.no_http:
            with tempfile.TemporaryDirectory(prefix="crossroads-bench-stream-") as tmp:
                key = secrets.token_urlsafe(16)
                serve, url = start_serve(base, Path(tmp), key)
                rows.update(asyncio.run(over_http(url, key, args.runs)))
                serve.terminate()
                serve.wait(30)
                serve = None
        ok = report(provider, bare, rows, routing)
        verdict = "met" if ok else "MISSED"
        print(f"target: single-domain first token <= {TARGET}x (provider first token + routing): {verdict}")
        return 0 if ok else 1
    finally:
        for process in (serve, fake):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--first-token-ms", type=float, default=0.0, help="Extra provider think time before the first token."
    )
    parser.add_argument("--no-http", action="store_true", help="Skip the `crossroads serve` measurements.")
    parser.add_argument("--fake-provider", type=int, metavar="PORT", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if not 1 <= arguments.tokens <= 10_000 or not 0 <= arguments.delay_ms <= 1000 or not 1 <= arguments.runs <= 50:
        parser.error("--tokens 1..10000, --delay-ms 0..1000, --runs 1..50")
    if arguments.fake_provider:
        serve_fake(
            arguments.fake_provider, arguments.tokens, arguments.delay_ms / 1000, arguments.first_token_ms / 1000
        )
        sys.exit(0)
    sys.exit(main(arguments))
