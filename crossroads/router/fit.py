"""Fit the decision thresholds on a labelled file (`crossroads route fit FILE`).

The classifier's confidences are computed once per question; the grid search then replays only the
decision rule, so trying a few thousand (threshold, margin) pairs takes well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from crossroads.router.decision import Rule, choose
from crossroads.router.evaluate import EvalReport, score
from crossroads.router.examples import Example

THRESHOLDS = [round(0.05 + 0.025 * i, 3) for i in range(35)]  # 0.05 .. 0.90
MARGINS = [round(0.05 * i, 2) for i in range(15)]  # 0.00 .. 0.70


@dataclass(frozen=True)
class FitResult:
    """The fitted rule and the metrics before and after it."""

    before: EvalReport
    after: EvalReport
    rule: Rule
    objective_before: float
    objective_after: float


def objective(report: EvalReport) -> float:
    """What `fit` maximises: micro F1 (label sets) plus primary accuracy (the first specialist)."""
    return report.micro_f1 + report.primary_accuracy


def _report(
    gold: list[list[str]], scores: Sequence[Mapping[str, float]], rule: Rule, off_topic: Sequence[float | None]
) -> EvalReport:
    return score(gold, [[n for n, _ in choose(s, rule, o)] for s, o in zip(scores, off_topic, strict=True)])


def fit_rule(
    examples: Sequence[Example],
    scores: Sequence[Mapping[str, float]],
    current: Rule,
    *,
    min_abstain_recall: float = 0.8,
    off_topic: Sequence[float | None] | None = None,
) -> FitResult:
    """Grid-search threshold and margin; abstain recall must stay >= `min_abstain_recall`.

    `off_topic` holds each question's off-topic confidence for the rule's off-topic gate (kept as
    `current.off_topic`); without it, every question below the threshold abstains.

    The constraint applies only when the file has off-topic questions. Ties go to the pair closest
    to the current one, so refitting on the same data is stable; the current pair is kept when it
    meets the constraint and nothing beats it (the objective never gets worse), or when no pair
    meets the constraint.
    """
    gold = [list(ex.labels) for ex in examples]
    has_off_topic = any(not g for g in gold)
    offs = list(off_topic) if off_topic is not None else [None] * len(scores)
    before = _report(gold, scores, current, offs)
    best: tuple[float, float, Rule, EvalReport] | None = None
    for t in THRESHOLDS:
        for m in MARGINS:
            rule = Rule(threshold=t, margin=m, max_targets=current.max_targets, off_topic=current.off_topic)
            rep = _report(gold, scores, rule, offs)
            if has_off_topic and rep.abstain_recall < min_abstain_recall:
                continue
            key = (round(objective(rep), 9), -abs(t - current.threshold) - abs(m - current.margin))
            if best is None or key > (best[0], best[1]):
                best = (key[0], key[1], rule, rep)
    before_ok = not has_off_topic or before.abstain_recall >= min_abstain_recall
    if best is None or (before_ok and best[0] < round(objective(before), 9)):
        return FitResult(before, before, current, objective(before), objective(before))
    return FitResult(before, best[3], best[2], objective(before), best[0])


def toml_snippet(rule: Rule) -> str:
    return f"[router]\nthreshold = {rule.threshold}\nmargin = {rule.margin}\n"


def write_rule(path: Path, rule: Rule) -> None:
    """Set `router.threshold` and `router.margin` in a TOML file, keeping every other line as it is."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^\s*\[router\]\s*(#.*)?$", ln)), None)
    values = {"threshold": rule.threshold, "margin": rule.margin}
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[router]", *(f"{k} = {v}" for k, v in values.items())]
    else:
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
        for key, value in values.items():
            pattern = re.compile(rf"^\s*{key}\s*=")
            hit = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
            if hit is None:
                lines.insert(start + 1, f"{key} = {value}")
                end += 1
            else:
                lines[hit] = f"{key} = {value}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
