"""Decision rule, evaluation metrics on a hand-made file (exact numbers), threshold fitting, example loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossroads.errors import InputError
from crossroads.router.decision import Rule, choose, top_two
from crossroads.router.evaluate import ABSTAIN, OFF_TOPIC, percentile, score
from crossroads.router.examples import Example, load_examples
from crossroads.router.fit import fit_rule, objective, write_rule


def test_threshold_and_margin_decide_single_or_several() -> None:
    scores = {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.1}
    assert choose(scores, Rule(0.3, 0.1)) == [("a", 0.9)]
    assert choose(scores, Rule(0.3, 0.25)) == [("a", 0.9), ("b", 0.7)]
    assert choose(scores, Rule(0.3, 0.5, max_targets=2)) == [("a", 0.9), ("b", 0.7)]
    assert choose(scores, Rule(0.6, 0.5)) == [("a", 0.9), ("b", 0.7)]
    assert choose(scores, Rule(0.95, 0.5)) == []
    assert top_two(scores) == (0.9, pytest.approx(0.2))


def test_metrics_on_a_tiny_file() -> None:
    gold = [["a"], ["a", "b"], ["b"], [], []]
    pred = [["a"], ["a"], ["a", "b"], [], ["b"]]
    rep = score(gold, pred, latencies_ms=[1, 2, 3, 4, 100])
    assert rep.n == 5
    assert rep.primary_accuracy == pytest.approx(2 / 3)  # q3's top target 'a' is wrong
    assert rep.exact_set_accuracy == pytest.approx(2 / 5)
    # tp: a,a,b = 3; fp: a (q3), b (q5) = 2; fn: b (q2) = 1
    assert rep.micro_precision == pytest.approx(3 / 5)
    assert rep.micro_recall == pytest.approx(3 / 4)
    assert rep.micro_f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    # a: tp 2 fp 1 fn 0 -> p 2/3 r 1; b: tp 1 fp 1 fn 1 -> p 1/2 r 1/2
    assert rep.per_agent["a"].f1 == pytest.approx(0.8)
    assert rep.per_agent["b"].f1 == pytest.approx(0.5)
    assert rep.macro_f1 == pytest.approx(0.65)
    assert rep.abstain_precision == pytest.approx(1.0)
    assert rep.abstain_recall == pytest.approx(0.5)
    assert rep.confusion == {"a": {"a": 2}, "b": {"a": 1}, OFF_TOPIC: {ABSTAIN: 1, "b": 1}}
    assert rep.latency_p50_ms == 3 and rep.latency_p99_ms == 100
    assert set(rep.model_dump()) >= {
        "primary_accuracy",
        "exact_set_accuracy",
        "micro_f1",
        "macro_f1",
        "abstain_precision",
        "abstain_recall",
        "latency_p50_ms",
        "latency_p99_ms",
        "n",
    }


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5, 1, 3], 50) == 3
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([], 50) == 0.0


def test_fit_improves_or_keeps_the_objective_and_respects_abstain_recall() -> None:
    examples = [
        Example("q", ("a",)),
        Example("q", ("a", "b")),
        Example("q", ("b",)),
        Example("q", ()),
        Example("q", ()),
    ]
    scores = [
        {"a": 0.8, "b": 0.1},
        {"a": 0.7, "b": 0.55},
        {"a": 0.2, "b": 0.6},
        {"a": 0.35, "b": 0.1},
        {"a": 0.1, "b": 0.2},
    ]
    current = Rule(0.3, 0.05)
    result = fit_rule(examples, scores, current, min_abstain_recall=1.0)
    assert result.objective_after >= result.objective_before
    assert result.objective_after == pytest.approx(objective(result.after))
    assert result.after.abstain_recall == 1.0
    assert result.after.exact_set_accuracy == 1.0
    assert 0.35 < result.rule.threshold <= 0.55 and result.rule.margin >= 0.15
    again = fit_rule(examples, scores, result.rule, min_abstain_recall=1.0)
    assert again.rule == result.rule  # stable when refitted on the same data


def test_write_rule_edits_only_the_router_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "offline"\n\n[router]\nmode = "local"\nthreshold = 0.3\n\n[limits]\nmax_hops = 2\n')
    write_rule(cfg, Rule(0.45, 0.1))
    text = cfg.read_text()
    assert 'mode = "local"' in text and "threshold = 0.45" in text and "margin = 0.1" in text
    assert text.index("margin = 0.1") < text.index("[limits]") and "max_hops = 2" in text
    fresh = tmp_path / "new.toml"
    write_rule(fresh, Rule(0.5, 0.2))
    assert fresh.read_text() == "[router]\nthreshold = 0.5\nmargin = 0.2\n"


def test_load_examples_names_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "q1", "labels": ["a"]}\n\n{"question": "q2", "labels": []}\n')
    assert load_examples(good) == [Example("q1", ("a",)), Example("q2", ())]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q1", "labels": ["a"]}\nnot json\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        load_examples(bad)
    with pytest.raises(InputError, match=r"good.jsonl:1: unknown label\(s\) \['a'\]"):
        load_examples(good, known_agents={"b"})
    with pytest.raises(InputError, match="no such file"):
        load_examples(tmp_path / "missing.jsonl")
    empty_q = tmp_path / "e.jsonl"
    empty_q.write_text('{"question": " ", "labels": []}\n')
    with pytest.raises(InputError, match="e.jsonl:1: 'question'"):
        load_examples(empty_q)
