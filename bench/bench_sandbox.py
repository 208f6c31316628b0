"""Cost of the sandbox, measured against a plain subprocess in the same run.

`print(1+1)` through `run_python` (pooled and cold) against a plain `/usr/bin/python3 -c` subprocess,
plus a pooled sympy check.

    sudo /work/venv/bin/python bench/bench_sandbox.py [-n 30]

Pooled calls wait until the pool is full and ready before each request, so they measure the request
path (what a user sees when requests are not back to back); cold calls spawn a fresh sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time

from crossroads.config import load_settings
from crossroads.logs import configure_logging
from crossroads.tools import Toolbox

TRIVIAL = "print(1+1)"
SYMPY = "import sympy\nx = sympy.Symbol('x')\nprint(sympy.simplify(sympy.sin(x)**2 + sympy.cos(x)**2))"


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _plain(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", TRIVIAL], capture_output=True, check=True)
        out.append((time.perf_counter() - t) * 1000)
    return out


async def _through(toolbox: Toolbox, code: str, n: int, *, pooled: bool, expect: str) -> list[float]:
    out = []
    for _ in range(n):
        if pooled:
            await toolbox.wait_warm(30)
            await asyncio.sleep(0.05)
        t = time.perf_counter()
        result = await toolbox.run_program(code, pooled=pooled)
        out.append((time.perf_counter() - t) * 1000)
        if result.stdout.strip() != expect:
            raise SystemExit(f"unexpected result: {result}")
    return out


async def main(n: int) -> None:
    configure_logging(level="warning")
    settings = load_settings().sandbox
    async with Toolbox(settings) as toolbox:
        if toolbox.tier == "unavailable":
            raise SystemExit(f"sandbox unavailable: {toolbox.unavailable_reason}")
        _plain(2)
        await _through(toolbox, TRIVIAL, 2, pooled=True, expect="2")
        rows = {
            "plain /usr/bin/python3 -c": _plain(n),
            "run_python pooled": await _through(toolbox, TRIVIAL, n, pooled=True, expect="2"),
            "run_python cold": await _through(toolbox, TRIVIAL, n, pooled=False, expect="2"),
            "sympy.simplify pooled": await _through(toolbox, SYMPY, n, pooled=True, expect="1"),
        }
        tier = toolbox.tier
    base = statistics.median(rows["plain /usr/bin/python3 -c"])
    print(f"tier: {tier}   N={n}   (ms; ratio = median / plain median)")
    print(f"{'variant':<28}{'median':>9}{'p90':>9}{'ratio':>8}")
    for name, samples in rows.items():
        med, p90 = _stats(samples)
        print(f"{name:<28}{med:>9.1f}{p90:>9.1f}{med / base:>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("-n", type=int, default=30, help="samples per variant (default 30)")
    asyncio.run(main(parser.parse_args().n))
