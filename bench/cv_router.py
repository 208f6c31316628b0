"""5-fold cross-validation of the local router on the packaged training examples.

Model and threshold choices are made here, never on `bench/data/route_test.jsonl`: each fold fits the
classifier on the cards plus four fifths of `train.jsonl` and routes the held-out fifth with the full
`LocalRouter` decision (threshold, margin, sentence owners). The folds are stratified by label set with
a fixed seed, so two runs with the same code print the same numbers.

    python bench/cv_router.py                       # current defaults
    python bench/cv_router.py --set alpha=0.3       # a training knob (any `Hyper` field)
    python bench/cv_router.py --fit-rule            # also grid-search threshold/margin on the folds' scores
    python bench/cv_router.py --semantic static     # with the semantic tier (or minilm, with the embed extra)
    python bench/cv_router.py --semantic static --sweep-blend [--fit-rule]   # choose the blend weights

`--sweep-blend` fits each fold once, caches the lexical scores and the tier's signals of every held-out
question and sentence, and replays the blend (`SemanticTier.apply`) over a grid of weights; the
defaults in `semantic.BLENDS` are the best of that grid at abstain recall >= 0.85.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crossroads.cards import load_cards  # noqa: E402
from crossroads.config import RouterSettings  # noqa: E402
from crossroads.router.decision import Rule, choose  # noqa: E402
from crossroads.router.evaluate import EvalReport, score  # noqa: E402
from crossroads.router.examples import PACKAGED_EXAMPLES, Example, load_examples  # noqa: E402
from crossroads.router.fit import MARGINS, THRESHOLDS, objective  # noqa: E402
from crossroads.router.local import add_segment_owners, training_docs  # noqa: E402
from crossroads.router.model import DEFAULT_HYPER, Hyper, LocalModel, fit  # noqa: E402
from crossroads.text import segments  # noqa: E402

Scored = tuple[dict[str, float], float | None, list[dict[str, float]]]
"""A question's confidences, its off-topic confidence and each sentence's confidences (none for one)."""


def folds(examples: Sequence[Example], k: int, seed: int) -> list[list[int]]:
    """Indices per fold, stratified by the (sorted) label set."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[tuple(sorted(ex.labels)) if len(ex.labels) < 3 else ("3",)].append(i)
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    n = 0
    for key in sorted(groups):
        idx = groups[key]
        rng.shuffle(idx)
        for i in idx:
            out[n % k].append(i)
            n += 1
    return out


class Memo:
    """An encoder that embeds each distinct text once: the folds share their card text and examples."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.cache = inner, inner.name, {}

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for t, v in zip(missing, self.inner.encode(missing), strict=True):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else self.inner.encode([])


def setup_semantic(kind: str | None, table: Path | None, blend: str | None) -> None:
    if kind is None:
        return
    from crossroads.router import semantic

    inner = semantic.StaticEncoder(table) if kind == "static" and table else semantic.encoder(kind)
    semantic._ENCODERS[kind] = Memo(inner)
    if blend:
        h, k, kk, o = (float(x) for x in blend.split(","))
        semantic.BLENDS[kind] = semantic.Blend(head=h, knn=k, knn_k=int(kk), off=o)


def out_of_fold(
    examples: Sequence[Example],
    cards: Mapping[str, Any],
    hyper: Hyper,
    k: int,
    seed: int,
    semantic: str | None = None,
) -> tuple[list[Scored], float]:
    scored: list[Scored | None] = [None] * len(examples)
    fit_s = 0.0
    for held in folds(examples, k, seed):
        held_set = set(held)
        train = [ex for i, ex in enumerate(examples) if i not in held_set]
        t0 = time.perf_counter()
        model = fit(training_docs(cards, train, hyper), sorted(cards), hyper, semantic=semantic)
        fit_s = max(fit_s, time.perf_counter() - t0)
        for i in held:
            scored[i] = _score(model, examples[i].question)
    return [s for s in scored if s is not None], fit_s


def _score(model: LocalModel, question: str) -> Scored:
    conf, off = model.assess(question)
    parts = segments(question)
    return conf, off, [model.confidences(p) for p in parts] if len(parts) > 1 else []


Signals = tuple[list[float], list[float]]
"""The semantic tier's head probabilities and neighbour votes for one text (`SemanticTier.signals`)."""


def out_of_fold_signals(
    examples: Sequence[Example], cards: Mapping[str, Any], hyper: Hyper, k: int, seed: int, semantic: str
) -> tuple[list[Scored], list[tuple[Signals, list[Signals]]], list[str]]:
    """Lexical scores and semantic signals per held-out question (whole and sentences), fitted once."""
    lexical: list[Scored | None] = [None] * len(examples)
    signals: list[tuple[Signals, list[Signals]] | None] = [None] * len(examples)
    classes: list[str] = []
    for held in folds(examples, k, seed):
        held_set = set(held)
        train = [ex for i, ex in enumerate(examples) if i not in held_set]
        model = fit(training_docs(cards, train, hyper), sorted(cards), hyper, semantic=semantic)
        tier, model.semantic = model.semantic, None
        assert tier is not None
        classes = tier.classes
        for i in held:
            q = examples[i].question
            lexical[i] = _score(model, q)
            parts = segments(q)
            sig = [tier.signals(tier.embed(p)) for p in parts] if len(parts) > 1 else []
            signals[i] = (tier.signals(tier.embed(q)), sig)
    return [s for s in lexical if s is not None], [s for s in signals if s is not None], classes


def blend_scores(
    lexical: Sequence[Scored], signals: Sequence[tuple[Signals, list[Signals]]], classes: Sequence[str], blend: Any
) -> list[Scored]:
    """`SemanticTier.apply` replayed over cached signals, for every question and sentence."""

    def mix(conf: dict[str, float], off: float | None, sig: Signals) -> tuple[dict[str, float], float | None]:
        head, votes = sig
        keep = 1.0 - blend.head - blend.knn
        out = {
            n: keep * conf[n] + blend.head * head[i] + blend.knn * votes[i] for i, n in enumerate(classes) if n in conf
        }
        if off is not None and off > 0 and blend.off:
            off = (1.0 - blend.off) * off + blend.off * head[-1]
        return out, off

    out: list[Scored] = []
    for (whole, off, parts), (sig, part_sigs) in zip(lexical, signals, strict=True):
        conf, o = mix(whole, off, sig)
        out.append((conf, o, [mix(p, None, ps)[0] for p, ps in zip(parts, part_sigs, strict=True)]))
    return out


def sweep(examples: Sequence[Example], cards: Mapping[str, Any], hyper: Hyper, args: Any, settings: Any) -> None:
    """Grid over the blend weights on the cached out-of-fold signals; prints the best few."""
    from crossroads.router.semantic import Blend

    lexical, signals, classes = out_of_fold_signals(examples, cards, hyper, args.folds, args.seed, args.semantic)
    rule = Rule(settings.threshold, settings.margin, settings.max_targets, settings.off_topic_abstain)
    rows = []
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    for h in grid:
        for k in grid:
            if h + k > 0.8:
                continue
            for o in (0.0, 0.3, 0.6):
                blend = Blend(head=h, knn=k, off=o)
                rep = replay(examples, blend_scores(lexical, signals, classes, blend), rule, settings.split_confidence)
                if rep.abstain_recall >= 0.85:
                    rows.append((objective(rep), h, k, o, rep))
    rows.sort(key=lambda r: -r[0])
    base = replay(examples, lexical, rule, settings.split_confidence)
    print(line("lexical only", base))
    for _, h, k, o, rep in rows[:8]:
        print(line(f"head={h} knn={k} off={o}", rep))
    if args.fit_rule:
        fitted, rep = fit_rule(examples, lexical, settings, 0.85)
        print(line(f"lexical, fitted t={fitted.threshold} m={fitted.margin} s={fitted.split_confidence}", rep))
        for _, h, k, o, _ in rows[:3]:
            blended = blend_scores(lexical, signals, classes, Blend(head=h, knn=k, off=o))
            fitted, rep = fit_rule(examples, blended, settings, 0.85)
            t, m, sc = fitted.threshold, fitted.margin, fitted.split_confidence
            print(line(f"head={h} knn={k} off={o} t={t} m={m} s={sc}", rep))


def replay(examples: Sequence[Example], scored: Sequence[Scored], rule: Rule, split_confidence: float) -> EvalReport:
    """The `LocalRouter.decide` targets from cached scores."""
    predicted = []
    for whole, off, parts in scored:
        chosen = choose(whole, rule, off)
        if chosen and parts and len(chosen) < rule.max_targets:
            chosen = add_segment_owners(chosen, parts, rule, split_confidence)
        predicted.append([n for n, _ in chosen])
    return score([list(ex.labels) for ex in examples], predicted)


def fit_rule(
    examples: Sequence[Example], scored: Sequence[Scored], base: RouterSettings, min_abstain_recall: float = 0.8
) -> tuple[RouterSettings, EvalReport]:
    best: tuple[float, RouterSettings, EvalReport] | None = None
    for split in (0.5, 0.6, 0.7, 0.8, 1.01):
        for t in THRESHOLDS:
            for m in MARGINS:
                rep = replay(examples, scored, Rule(t, m, base.max_targets, base.off_topic_abstain), split)
                if rep.abstain_recall < min_abstain_recall:
                    continue
                if best is None or objective(rep) > best[0] + 1e-9:
                    settings = base.model_copy(update={"threshold": t, "margin": m, "split_confidence": split})
                    best = (objective(rep), settings, rep)
    assert best is not None
    return best[1], best[2]


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    kinds = {f.name: f.type for f in dataclasses.fields(Hyper)}
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in kinds:
            raise SystemExit(f"unknown Hyper field {key!r}; known: {sorted(kinds)}")
        default = getattr(DEFAULT_HYPER, key)
        out[key] = value if isinstance(default, str) else type(default)(value)
    return out


def line(name: str, rep: EvalReport) -> str:
    return (
        f"{name:28} {rep.primary_accuracy:8.3f} {rep.exact_set_accuracy:7.3f} {rep.micro_f1:8.3f} "
        f"{rep.macro_f1:8.3f} {rep.abstain_precision:6.3f} {rep.abstain_recall:6.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=PACKAGED_EXAMPLES)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a training knob of crossroads.router.model.Hyper",
    )
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--margin", type=float)
    parser.add_argument("--split-confidence", type=float)
    parser.add_argument("--off-topic-abstain", type=float)
    parser.add_argument("--fit-rule", action="store_true", help="grid-search threshold, margin, split_confidence")
    parser.add_argument(
        "--cards-only",
        action="store_true",
        help="fit on the cards alone and route every example (what the cards' text knows)",
    )
    parser.add_argument(
        "--cards",
        type=Path,
        action="append",
        default=[],
        help="a cards directory whose cards replace the packaged ones of the same name",
    )
    parser.add_argument("--semantic", choices=["static", "minilm"], help="blend in the semantic tier")
    parser.add_argument("--table", type=Path, help="static: another distilled table (bench/distill_static.py)")
    parser.add_argument("--blend", help="semantic blend HEAD,KNN,K,OFF (default: semantic.BLENDS)")
    parser.add_argument("--sweep-blend", action="store_true", help="grid-search the semantic blend (needs --semantic)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup_semantic(args.semantic, args.table, args.blend)

    cards = load_cards(args.cards)
    examples = load_examples(args.data, cards)
    hyper = dataclasses.replace(DEFAULT_HYPER, **_parse_set(args.set))
    overrides = {
        k: v
        for k, v in (
            ("threshold", args.threshold),
            ("margin", args.margin),
            ("split_confidence", args.split_confidence),
            ("off_topic_abstain", args.off_topic_abstain),
        )
        if v is not None
    }
    settings = RouterSettings(**overrides)
    if args.sweep_blend:
        sweep(examples, cards, hyper, args, settings)
        return
    if args.cards_only:
        args.folds = 1
        t0 = time.perf_counter()
        model = fit(training_docs(cards, [], hyper), sorted(cards), hyper, semantic=args.semantic)
        fit_s = time.perf_counter() - t0
        scored = [_score(model, ex.question) for ex in examples]
    else:
        scored, fit_s = out_of_fold(examples, cards, hyper, args.folds, args.seed, args.semantic)
    rule = Rule(settings.threshold, settings.margin, settings.max_targets, settings.off_topic_abstain)
    rep = replay(examples, scored, rule, settings.split_confidence)
    result: dict[str, Any] = {
        "cv": rep.headline(),
        "rule": [rule.threshold, rule.margin, settings.split_confidence, rule.off_topic],
        "fold_fit_s": round(fit_s, 3),
    }
    fitted = None
    if args.fit_rule:
        fitted_settings, fitted = fit_rule(examples, scored, settings)
        result["fitted"] = fitted.headline()
        result["fitted_rule"] = [fitted_settings.threshold, fitted_settings.margin, fitted_settings.split_confidence]
    if args.json:
        print(json.dumps(result))
        return
    kind = "cards only" if args.cards_only else f"{args.folds}-fold CV"
    print(
        f"{kind} on {args.data.name} ({len(examples)} questions, seed {args.seed}); "
        f"slowest fold fit {fit_s:.2f} s; semantic {args.semantic or 'off'} {args.blend or ''}; {hyper}"
    )
    print(f"{'':28} {'primary':>8} {'exact':>7} {'microF1':>8} {'macroF1':>8} {'abstP':>6} {'abstR':>6}")
    print(line(f"rule t={rule.threshold} m={rule.margin} s={settings.split_confidence} o={rule.off_topic}", rep))
    if fitted is not None:
        t, m, s = result["fitted_rule"]
        print(line(f"fitted t={t} m={m} s={s}", fitted))


if __name__ == "__main__":
    main()
