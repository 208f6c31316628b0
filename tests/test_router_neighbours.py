"""The nearest-example votes and the off-topic gate of the decision rule."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from crossroads.router.decision import Rule, choose
from crossroads.router.model import features
from crossroads.router.neighbours import NeighbourIndex

DOCS = [
    ("kubernetes pod keeps restarting with CrashLoopBackOff", [0]),
    ("helm chart values for a kubernetes ingress", [0]),
    ("pandas groupby is slow on a large dataframe", [1]),
    ("my pandas merge duplicates rows", [1]),
    ("best banana bread recipe", []),
]
CLASSES = ["cloud", "data", "new-card"]


def _index() -> NeighbourIndex:
    return NeighbourIndex.build([Counter(features(q)) for q, _ in DOCS], [labels for _, labels in DOCS])


def test_votes_follow_the_nearest_examples() -> None:
    index = _index()
    votes = index.votes(features("why does my kubernetes pod restart?"), len(CLASSES), k=2)
    assert votes is not None and votes[0] == pytest.approx(1.0) and votes[1] == 0.0
    assert index.votes(features("zzz qqq"), len(CLASSES), k=2) is None
    off = index.votes(features("banana bread"), len(CLASSES), k=1)
    assert off == [0.0, 0.0, 0.0]  # the off-topic example votes for nobody


def test_blend_leaves_a_class_without_examples_alone() -> None:
    index = _index()
    blended = index.blend({"cloud": 0.2, "data": 0.8, "new-card": 0.6}, CLASSES, [1.0, 0.0, 0.0], 0.25)
    assert blended == {"cloud": pytest.approx(0.4), "data": pytest.approx(0.6), "new-card": 0.6}


def test_index_round_trips_through_json() -> None:
    index = _index()
    again = NeighbourIndex.from_json(json.loads(json.dumps(index.to_json())))
    terms = features("pandas dataframe groupby")
    assert again.votes(terms, 3, 3) == index.votes(terms, 3, 3)


def test_below_threshold_only_the_off_topic_class_abstains() -> None:
    rule = Rule(threshold=0.45, margin=0.3, off_topic=0.15)
    scores = {"a": 0.3, "b": 0.1}
    assert choose(scores, rule, off_topic=0.05) == [("a", 0.3)]
    assert choose(scores, rule, off_topic=0.5) == []
    assert choose(scores, rule) == []  # no off-topic class: abstain below the threshold
    assert choose(scores, Rule(threshold=0.45, margin=0.3), off_topic=0.05) == []  # gate off
    assert choose({"a": 0.9, "b": 0.7}, rule, off_topic=0.9) == [("a", 0.9), ("b", 0.7)]
