"""The decision rule: calibrated confidences in, ordered targets (or an abstention) out.

Kept apart from the classifier so `crossroads route fit` can replay it over cached scores with other
thresholds in microseconds, and so the LLM stage and the local stage share one notion of "confident".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    threshold: float
    """A specialist is chosen when its confidence reaches this; nobody reaching it means abstain."""
    margin: float
    """...and when it is within this of the best confidence (several specialists for one question)."""
    max_targets: int = 3


def choose(scores: Mapping[str, float], rule: Rule) -> list[tuple[str, float]]:
    """Specialists chosen by `rule`, best first; empty means abstain."""
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < rule.threshold:
        return []
    best = ranked[0][1]
    chosen = [(n, s) for n, s in ranked if s >= rule.threshold and best - s <= rule.margin]
    return chosen[: rule.max_targets]


def top_two(scores: Mapping[str, float]) -> tuple[float, float]:
    """Best confidence and its lead over the runner-up (the cascade's uncertainty signals)."""
    values = sorted(scores.values(), reverse=True) + [0.0, 0.0]
    return values[0], values[0] - values[1]
