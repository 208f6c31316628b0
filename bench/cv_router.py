"""5-fold cross-validation of the local router on the packaged training examples.

Model and threshold choices are made here, never on `bench/data/route_test.jsonl`: each fold fits the
classifier on the cards plus four fifths of `train.jsonl` and routes the held-out fifth with the full
`LocalRouter` decision (threshold, margin, sentence owners). The folds are stratified by label set with
a fixed seed, so two runs with the same code print the same numbers.

    python bench/cv_router.py                       # current defaults
    python bench/cv_router.py --set alpha=0.3       # a training knob (any `Hyper` field)
    python bench/cv_router.py --fit-rule            # also grid-search threshold/margin on the folds' scores
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


def out_of_fold(
    examples: Sequence[Example], cards: Mapping[str, Any], hyper: Hyper, k: int, seed: int
) -> tuple[list[Scored], float]:
    scored: list[Scored | None] = [None] * len(examples)
    fit_s = 0.0
    for held in folds(examples, k, seed):
        held_set = set(held)
        train = [ex for i, ex in enumerate(examples) if i not in held_set]
        t0 = time.perf_counter()
        model = fit(training_docs(cards, train, hyper), sorted(cards), hyper)
        fit_s = max(fit_s, time.perf_counter() - t0)
        for i in held:
            scored[i] = _score(model, examples[i].question)
    return [s for s in scored if s is not None], fit_s


def _score(model: LocalModel, question: str) -> Scored:
    conf, off = model.assess(question)
    parts = segments(question)
    return conf, off, [model.confidences(p) for p in parts] if len(parts) > 1 else []


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

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
    if args.cards_only:
        args.folds = 1
        t0 = time.perf_counter()
        model = fit(training_docs(cards, [], hyper), sorted(cards), hyper)
        fit_s = time.perf_counter() - t0
        scored = [_score(model, ex.question) for ex in examples]
    else:
        scored, fit_s = out_of_fold(examples, cards, hyper, args.folds, args.seed)
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
        f"slowest fold fit {fit_s:.2f} s; {hyper}"
    )
    print(f"{'':28} {'primary':>8} {'exact':>7} {'microF1':>8} {'macroF1':>8} {'abstP':>6} {'abstR':>6}")
    print(line(f"rule t={rule.threshold} m={rule.margin} s={settings.split_confidence} o={rule.off_topic}", rep))
    if fitted is not None:
        t, m, s = result["fitted_rule"]
        print(line(f"fitted t={t} m={m} s={s}", fitted))


if __name__ == "__main__":
    main()
