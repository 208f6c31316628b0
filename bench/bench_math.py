"""Latency of `check_math` and `run_sql` through the pooled sandbox, per claim kind.

    sudo /work/venv/bin/python bench/bench_math.py [-n 10]

Like bench_sandbox.py, each request waits until the pool is full and ready, so the numbers are the
request path (checker program compile + sympy work + marker parse), not the pool refill.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from crossroads.tools import Toolbox

CLAIMS = [
    "17*23 = 391",
    "sin(x)**2 + cos(x)**2 = 1",
    "log(a*b) = log(a) + log(b)",
    "d/dx x**3 = 3*x**2",
    "integral of x from 0 to 1 = 1/2",
    "x**2 - 4 = 0 has solutions x = 2, x = -2",
    "F1 with precision 0.8 and recall 0.5 = 0.615",
]
SQL = "create table t(x); insert into t values (1), (2), (3); select sum(x) from t"


async def main(n: int) -> None:
    async with Toolbox() as toolbox:
        if toolbox.tier == "unavailable":
            raise SystemExit(f"sandbox unavailable: {toolbox.unavailable_reason}")
        print(f"tier: {toolbox.tier}, n = {n} per row, pooled (warm pool before each request)")
        print(f"{'call':48} {'median ms':>10} {'p90 ms':>8}  verdict")
        rows: list[tuple[str, str | None]] = [*((c, c) for c in CLAIMS), ("run_sql: " + SQL[:38], None)]
        for label, claim in rows:
            samples, verdict = [], None
            for _ in range(n):
                await toolbox.wait_warm(60)
                t = time.perf_counter()
                if claim is None:
                    verdict = (await toolbox.run_sql(SQL)).rows
                else:
                    verdict = (await toolbox.check_math(claim)).verified
                samples.append((time.perf_counter() - t) * 1000)
            ordered = sorted(samples)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            print(f"{label[:48]:48} {statistics.median(ordered):10.1f} {p90:8.1f}  {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("-n", type=int, default=10)
    asyncio.run(main(parser.parse_args().n))
