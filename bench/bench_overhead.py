"""What crossroads adds on top of pydantic-ai, and how it holds up under concurrency.

    /work/venv/bin/python bench/bench_overhead.py [-n 300] [--asks 500] [--concurrency 100] [--latency 0.1]

1. Overhead: N single-specialist asks through the orchestrator (`agent=` bypasses routing, fake toolbox)
   on a zero-latency `FunctionModel`, against N runs of a bare pydantic-ai `Agent` on the same model with
   the same instructions and tools, in one process. Target: ratio <= 1.3.
2. Concurrency: `--asks` asks, `--concurrency` at a time, against a mocked openai-compatible provider that
   answers after a fixed latency (respx side effect with asyncio.sleep, through the shared httpx2 client).
   Ideal = asks / concurrency * latency. Target: within 1.5x of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import respx
from pydantic_ai import Agent, Tool
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crossroads.agents.team import TOOLS, handoff
from crossroads.config import load_settings
from crossroads.logs import configure_logging
from crossroads.orchestrator import Orchestrator
from crossroads.prompting import specialist_instructions, specialist_prompt
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from crossroads.tools.models import MathResult, PythonResult, SqlResult

AGENT = "cloud-infra"
QUESTION = "How do I autoscale inference pods on Kubernetes?"


class NullToolbox:
    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        return PythonResult(ok=True, stdout="", exit_code=0, tier="unsafe-local")

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        return MathResult(verified=True, kind="equality", claim=claim, tier="unsafe-local")

    async def run_sql(self, query: str, tables: Any = None, timeout: float | None = None) -> SqlResult:
        return SqlResult(ok=True, tier="unsafe-local")

    async def aclose(self) -> None:
        pass


class NoRouter:
    async def route(self, question: str) -> Any:
        raise AssertionError("asks name the specialist")


def instant(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(
        parts=[TextPart("Use a HorizontalPodAutoscaler on GPU utilisation.")],
        usage=RequestUsage(input_tokens=1000, output_tokens=12),
    )


async def overhead(n: int) -> tuple[float, float, float]:
    model = FunctionModel(instant, model_name="instant")

    def same_model(_: Model, role: str) -> Model:
        return model

    settings = load_settings(trace_db="off")
    crossroads = Orchestrator(settings, toolbox=NullToolbox(), router=NoRouter(), model_wrapper=same_model)
    card = crossroads.cards[AGENT]
    neighbours = crossroads.graph.neighbours(AGENT)
    tools = [Tool(TOOLS[t], takes_ctx=True) for t in card.tools] + [Tool(handoff, takes_ctx=True)]
    bare_tools = Agent(model, instructions=specialist_instructions(card, neighbours), tools=tools, deps_type=object)
    bare = Agent(model, instructions=specialist_instructions(card, neighbours))
    prompt = specialist_prompt(QUESTION, QUESTION)

    async def orchestrated() -> None:
        result = await crossroads.ask(QUESTION, agent=AGENT)
        assert result.status == "ok"

    async def plain_tools() -> None:
        await bare_tools.run(prompt, deps=None)

    async def plain() -> None:
        await bare.run(prompt)

    timings: dict[str, list[float]] = {"orchestrator": [], "bare+tools": [], "bare": []}
    runners = {"orchestrator": orchestrated, "bare+tools": plain_tools, "bare": plain}
    for fn in runners.values():  # warm up (imports, schema caches)
        for _ in range(20):
            await fn()
    for _ in range(5):  # interleaved rounds: drift in machine load hits every variant alike
        for name, fn in runners.items():
            t0 = time.perf_counter()
            for _ in range(n // 5):
                await fn()
            timings[name].append((time.perf_counter() - t0) / (n // 5))
    await crossroads.aclose()
    return (
        statistics.median(timings["orchestrator"]),
        statistics.median(timings["bare+tools"]),
        statistics.median(timings["bare"]),
    )


async def concurrency(asks: int, limit: int, latency: float) -> tuple[float, float, float]:
    router = respx.MockRouter(assert_all_mocked=True)

    async def slow_provider(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(latency)
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1735689600,
                "model": "llama3.2",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "message": {"role": "assistant", "content": "Use a HorizontalPodAutoscaler."},
                    }
                ],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 8, "total_tokens": 1008},
            },
        )

    router.post("http://127.0.0.1:11434/v1/chat/completions").mock(side_effect=slow_provider)
    settings = load_settings(trace_db="off", model="openai-compatible:llama3.2", base_url="http://127.0.0.1:11434/v1")
    crossroads = Orchestrator(
        settings, toolbox=NullToolbox(), router=NoRouter(), http_transport=RespxHttpx2Transport(router)
    )
    gate = asyncio.Semaphore(limit)

    async def one() -> None:
        async with gate:
            result = await crossroads.ask(QUESTION, agent=AGENT)
            assert result.status == "ok", result.error

    # Baseline: a bare pydantic-ai Agent on the same provider model, instructions and tools, no orchestrator.
    card = crossroads.cards[AGENT]
    tools = [Tool(TOOLS[t], takes_ctx=True) for t in card.tools] + [Tool(handoff, takes_ctx=True)]
    bare = Agent(
        crossroads.models.specialist(AGENT),
        deps_type=object,
        tools=tools,
        instructions=specialist_instructions(card, crossroads.graph.neighbours(AGENT)),
    )
    prompt = specialist_prompt(QUESTION, QUESTION)

    async def one_bare() -> None:
        async with gate:
            await bare.run(prompt, deps=None)

    async def timed(fn: Any) -> float:
        await asyncio.gather(*(fn() for _ in range(min(limit, 20))))  # warm up
        t0 = time.perf_counter()
        await asyncio.gather(*(fn() for _ in range(asks)))
        return time.perf_counter() - t0

    total, baseline = await timed(one), await timed(one_bare)
    await crossroads.aclose()
    return total, baseline, asks / limit * latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=300, help="asks per variant in the overhead run")
    parser.add_argument("--asks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1, help="mocked provider latency, seconds")
    args = parser.parse_args()
    configure_logging("console", "error")
    os.environ.pop("OPENAI_API_KEY", None)

    ours, bare_tools, bare = asyncio.run(overhead(args.n))
    print(f"overhead, single-specialist ask, zero-latency FunctionModel, n={args.n}")
    print(f"  orchestrator        {ours * 1000:7.3f} ms/ask")
    print(f"  bare Agent + tools  {bare_tools * 1000:7.3f} ms/run   ratio {ours / bare_tools:.2f} (target <= 1.3)")
    print(f"  bare Agent          {bare * 1000:7.3f} ms/run   ratio {ours / bare:.2f}")
    total, baseline, ideal = asyncio.run(concurrency(args.asks, args.concurrency, args.latency))
    print(f"concurrency: {args.asks} asks, {args.concurrency} at a time, provider latency {args.latency * 1000:.0f} ms")
    print(f"  crossroads          {total:.3f} s = {total / ideal:.2f}x the {ideal:.3f} s ideal (target <= 1.5x)")
    print(
        f"  bare Agent, same    {baseline:.3f} s = {baseline / ideal:.2f}x ideal; crossroads / bare = "
        f"{total / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
