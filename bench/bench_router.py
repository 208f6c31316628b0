"""Router benchmark: quality on the held-out test half, in-process latency and whole-process start time.

    python bench/bench_router.py [--data bench/data/route_test.jsonl] [--runs 10] [--json]

Baselines run in the same process on the same file: the keyword router, and TF-IDF + logistic
regression when scikit-learn is installed (skipped otherwise). The local router is trained on the
packaged examples only; the test file is never trained on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crossroads.cards import load_cards  # noqa: E402
from crossroads.config import RouterSettings, load_settings  # noqa: E402
from crossroads.result import RouteDecision, RouteTarget  # noqa: E402
from crossroads.router import KeywordRouter, build_local, evaluate, load_examples  # noqa: E402
from crossroads.router.examples import PACKAGED_EXAMPLES  # noqa: E402


class SklearnRouter:
    """TF-IDF (word + char n-grams) and one-vs-rest logistic regression on the packaged examples."""

    def __init__(self, cards: Any, threshold: float = 0.3) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.preprocessing import MultiLabelBinarizer

        train = load_examples(PACKAGED_EXAMPLES, cards)
        self.binarizer = MultiLabelBinarizer(classes=sorted(cards))
        y = self.binarizer.fit_transform([ex.labels for ex in train])
        features = make_union(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
            TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5)),
        )
        self.model = make_pipeline(features, OneVsRestClassifier(LogisticRegression(C=10, max_iter=1000)))
        self.model.fit([ex.question for ex in train], y)
        self.threshold = threshold

    async def route(self, question: str) -> RouteDecision:
        probs = self.model.predict_proba([question])[0]
        ranked = sorted(zip(self.binarizer.classes_, probs, strict=True), key=lambda kv: -kv[1])
        chosen = [(n, p) for n, p in ranked if p >= self.threshold][:3]
        return RouteDecision(
            targets=[RouteTarget(agent=n, confidence=float(p), sub_question=question) for n, p in chosen],
            abstain=not chosen,
            stage="sklearn",
        )


def process_p50(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench/data/route_test.jsonl")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cards = load_cards()
    settings = load_settings().router  # exactly what ships: packaged defaults (and any user config)
    examples = load_examples(args.data, cards)
    t0 = time.perf_counter()
    local = build_local(cards, settings, cache_dir=None)
    fit_s = time.perf_counter() - t0
    # The keyword baseline keeps the rule it was measured with (the defaults are the local router's).
    keyword = KeywordRouter(cards, RouterSettings(threshold=0.3, margin=0.25))
    routers: dict[str, Any] = {"local (crossroads)": local, "keyword (baseline)": keyword}
    try:
        routers["tfidf+logreg (sklearn)"] = SklearnRouter(cards)
    except ImportError:
        print("scikit-learn not installed: TF-IDF + logistic regression baseline skipped", file=sys.stderr)

    rows: dict[str, dict[str, Any]] = {}
    for name, router in routers.items():
        rep = asyncio.run(evaluate(router, examples, cards))
        rows[name] = {**rep.headline(), "latency_p50_ms": rep.latency_p50_ms, "latency_p99_ms": rep.latency_p99_ms}

    # In-process latency of the decision alone, many repetitions for a stable p50.
    lat = []
    for _ in range(5):
        for ex in examples:
            t = time.perf_counter()
            local.decide(ex.question)
            lat.append((time.perf_counter() - t) * 1000)
    decide_p50 = statistics.median(lat)

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp}
        exe = (
            [sys.executable, "-m", "crossroads.cli"]
            if not Path(sys.executable).with_name("crossroads").exists()
            else [str(Path(sys.executable).with_name("crossroads"))]
        )
        question = "How do I autoscale pods on EKS with KEDA?"
        subprocess.run([*exe, "route", question], check=True, capture_output=True, env=env, cwd=ROOT)  # warm cache
        route_p50 = process_p50([*exe, "route", question], args.runs, env)
        import_p50 = process_p50([sys.executable, "-c", "import crossroads"], args.runs, env)

    summary = {
        "routers": rows,
        "local_fit_s": fit_s,
        "decide_p50_ms": decide_p50,
        "route_process_p50_s": route_p50,
        "import_crossroads_p50_s": import_p50,
        "n": len(examples),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{args.data} ({len(examples)} questions; local router fitted in {fit_s:.2f} s without cache)\n")
    head = (
        f"{'router':26} {'primary':>8} {'exact':>7} {'microF1':>8} {'macroF1':>8} {'abstP':>6} {'abstR':>6}"
        f" {'p50 ms':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        print(
            f"{name:26} {r['primary_accuracy']:8.3f} {r['exact_set_accuracy']:7.3f} {r['micro_f1']:8.3f} "
            f"{r['macro_f1']:8.3f} {r['abstain_precision']:6.3f} {r['abstain_recall']:6.3f} "
            f"{r['latency_p50_ms']:8.3f}"
        )
    print(f"\nlocal decide() p50 in-process: {decide_p50:.3f} ms (target <= 0.5 ms)")
    print(
        f'`crossroads route "..."` process p50: {route_p50:.3f} s (target <= 0.35 s); '
        f"`python -c 'import crossroads'` p50: {import_p50:.3f} s"
    )


if __name__ == "__main__":
    main()
