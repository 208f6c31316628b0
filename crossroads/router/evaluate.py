"""Routing quality on a labelled file: the numbers `crossroads route eval` prints.

Definitions (an empty label list means off-topic):
- primary accuracy: over questions with labels, the top target is one of them (abstaining is wrong);
- exact-set accuracy: over all questions, the chosen set equals the label set (abstain == off-topic);
- micro/macro precision, recall and F1 over label sets: a target routed for an off-topic question is
  a false positive; macro averages the per-specialist F1 over every specialist seen in labels,
  predictions or the router's card set;
- abstain precision/recall: abstaining is the positive class, off-topic is the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from crossroads.result import RouteDecision
from crossroads.router.base import Router
from crossroads.router.examples import Example

OFF_TOPIC = "(off-topic)"
ABSTAIN = "(abstain)"


class AgentScore(BaseModel):
    """Precision, recall and F1 of one specialist on a labelled file."""

    precision: float
    recall: float
    f1: float
    support: int
    """Questions whose labels name this specialist."""
    predicted: int


class EvalReport(BaseModel):
    """Routing quality on a labelled file: accuracy, F1, abstention, latency and confusion."""

    n: int
    primary_accuracy: float
    exact_set_accuracy: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    abstain_precision: float
    abstain_recall: float
    latency_p50_ms: float
    latency_p99_ms: float
    per_agent: dict[str, AgentScore] = Field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Rows: the first label (or off-topic); columns: the primary target (or abstain)."""
    stages: dict[str, int] = Field(default_factory=dict)
    """How many questions each router stage decided."""

    def headline(self) -> dict[str, Any]:
        keys = (
            "primary_accuracy",
            "exact_set_accuracy",
            "micro_f1",
            "macro_f1",
            "abstain_precision",
            "abstain_recall",
            "n",
        )
        return {k: getattr(self, k) for k in keys}


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def score(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    latencies_ms: Sequence[float] = (),
    agents: Iterable[str] = (),
    stages: Sequence[str] = (),
) -> EvalReport:
    """Metrics from gold label lists and predicted target lists (best first), question by question."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    names = set(agents)
    for labels, pred in zip(gold, predicted, strict=True):
        names.update(labels)
        names.update(pred)
    tp = dict.fromkeys(names, 0)
    fp = dict.fromkeys(names, 0)
    fn = dict.fromkeys(names, 0)
    primary_ok = labelled = exact = abstain_tp = abstain_fp = abstain_fn = 0
    confusion: dict[str, dict[str, int]] = {}
    for labels, pred in zip(gold, predicted, strict=True):
        g, p = set(labels), set(pred)
        for a in p & g:
            tp[a] += 1
        for a in p - g:
            fp[a] += 1
        for a in g - p:
            fn[a] += 1
        exact += g == p
        if labels:
            labelled += 1
            primary_ok += bool(pred) and pred[0] in g
        abstain_tp += not pred and not labels
        abstain_fp += not pred and bool(labels)
        abstain_fn += bool(pred) and not labels
        row = confusion.setdefault(labels[0] if labels else OFF_TOPIC, {})
        col = pred[0] if pred else ABSTAIN
        row[col] = row.get(col, 0) + 1
    per_agent: dict[str, AgentScore] = {}
    for a in sorted(names):
        p, r = _ratio(tp[a], tp[a] + fp[a]), _ratio(tp[a], tp[a] + fn[a])
        per_agent[a] = AgentScore(precision=p, recall=r, f1=_f1(p, r), support=tp[a] + fn[a], predicted=tp[a] + fp[a])
    stp, sfp, sfn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p, micro_r = _ratio(stp, stp + sfp), _ratio(stp, stp + sfn)
    k = len(per_agent)
    stage_counts: dict[str, int] = {}
    for s in stages:
        stage_counts[s] = stage_counts.get(s, 0) + 1
    return EvalReport(
        n=len(gold),
        primary_accuracy=_ratio(primary_ok, labelled),
        exact_set_accuracy=_ratio(exact, len(gold)),
        micro_precision=micro_p,
        micro_recall=micro_r,
        micro_f1=_f1(micro_p, micro_r),
        macro_precision=_ratio(sum(s.precision for s in per_agent.values()), k),
        macro_recall=_ratio(sum(s.recall for s in per_agent.values()), k),
        macro_f1=_ratio(sum(s.f1 for s in per_agent.values()), k),
        abstain_precision=_ratio(abstain_tp, abstain_tp + abstain_fp),
        abstain_recall=_ratio(abstain_tp, abstain_tp + abstain_fn),
        latency_p50_ms=percentile(latencies_ms, 50),
        latency_p99_ms=percentile(latencies_ms, 99),
        per_agent=per_agent,
        confusion=confusion,
        stages=stage_counts,
    )


async def evaluate(router: Router, examples: Sequence[Example], agents: Iterable[str] = ()) -> EvalReport:
    """Route every example once and score the decisions; latency is wall time around `route`."""
    predicted: list[list[str]] = []
    latencies: list[float] = []
    stages: list[str] = []
    for ex in examples:
        t0 = time.perf_counter()
        decision = await router.route(ex.question)
        latencies.append((time.perf_counter() - t0) * 1000)
        predicted.append(decision.agents)
        stages.append(decision.stage)
    return score([list(ex.labels) for ex in examples], predicted, latencies, agents, stages)


class CascadeReport(BaseModel):
    """What the cascade would do on a labelled file at the configured cut, measured on the local stage.

    `kept` questions are decided locally; the escalated ones would go to the LLM router when one is
    configured. The local stage's accuracy on the escalated ones is what an LLM router has to beat
    for escalating to be worth its cost.
    """

    n: int
    cascade_confidence: float
    cascade_margin: float
    escalated: int
    escalated_share: float
    kept: EvalReport
    """Metrics over the questions the local stage keeps."""
    escalated_local: EvalReport
    """The local stage's own metrics over the questions it would escalate."""
    local: EvalReport
    """The local stage alone on every question (no escalation)."""
    llm_configured: bool


def cascade_report(
    decide: Callable[[str], RouteDecision],
    escalation: Callable[[RouteDecision], str | None],
    examples: Sequence[Example],
    *,
    cascade_confidence: float,
    cascade_margin: float,
    llm_configured: bool,
    agents: Iterable[str] = (),
) -> CascadeReport:
    """Split `examples` by the cascade's escalation test and score each side with the local decisions.

    `decide` is the local stage and `escalation` the cascade's own test (`CascadeRouter.escalation`),
    so the report counts exactly what `router.mode = "cascade"` would send to the LLM router.
    """
    names = list(agents)
    kept_gold: list[list[str]] = []
    kept_pred: list[list[str]] = []
    esc_gold: list[list[str]] = []
    esc_pred: list[list[str]] = []
    for ex in examples:
        decision = decide(ex.question)
        gold, pred = (kept_gold, kept_pred) if escalation(decision) is None else (esc_gold, esc_pred)
        gold.append(list(ex.labels))
        pred.append(decision.agents)
    n = len(examples)
    return CascadeReport(
        n=n,
        cascade_confidence=cascade_confidence,
        cascade_margin=cascade_margin,
        escalated=len(esc_gold),
        escalated_share=_ratio(len(esc_gold), n),
        kept=score(kept_gold, kept_pred, agents=names),
        escalated_local=score(esc_gold, esc_pred, agents=names),
        local=score(kept_gold + esc_gold, kept_pred + esc_pred, agents=names),
        llm_configured=llm_configured,
    )
