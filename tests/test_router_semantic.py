"""The semantic tier: tokenizer, static encoder, the fitted tier, its blend, its cache, and the sparse fit."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from crossroads.cards import load_cards
from crossroads.config import RouterSettings
from crossroads.errors import ConfigError
from crossroads.result import RouteDecision, RouteTarget
from crossroads.router import semantic
from crossroads.router.evaluate import cascade_report
from crossroads.router.examples import Example
from crossroads.router.local import PACKAGED_FITTED, card_docs, load_or_fit, model_key, training_docs
from crossroads.router.model import DEFAULT_HYPER, OFF_TOPIC, Doc, features, fit
from crossroads.router.semantic import Blend, SemanticTier, StaticEncoder, basic_tokens, fit_tier

FIXTURE_CARDS = Path(__file__).resolve().parent / "fixtures" / "user_cards"


class FakeEncoder:
    """Bag of hashed words -> 16 dims: deterministic, and texts sharing words are similar."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += len(texts)
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % 16] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEncoder:
    enc = FakeEncoder()
    monkeypatch.setitem(semantic._ENCODERS, "fake", enc)
    monkeypatch.setattr(semantic, "encoder_id", lambda kind: f"{kind}-test")
    return enc


def test_basic_tokens_split_punctuation_and_strip_accents() -> None:
    assert basic_tokens("Why doesn't pd.read_csv() work?") == [
        "why", "doesn", "'", "t", "pd", ".", "read", "_", "csv", "(", ")", "work", "?",
    ]  # fmt: skip
    assert basic_tokens("Café naïve") == ["cafe", "naive"]  # the non-ASCII path agrees with BERT's


def test_static_encoder_rows_are_unit_length_and_unknown_text_is_zero() -> None:
    enc = StaticEncoder()
    vecs = enc.encode(["kubernetes pod", "", "\u4e2d\u6587"])
    assert math.isclose(float(np.linalg.norm(vecs[0])), 1.0, rel_tol=1e-5)
    assert not vecs[1].any() and not vecs[2].any()  # nothing known: no direction, no evidence
    assert enc.ids("tokenization") and all(isinstance(i, int) for i in enc.ids("tokenization"))


def test_static_encoder_puts_related_texts_closer_than_unrelated_ones() -> None:
    enc = StaticEncoder()
    a, b, c = enc.encode(["database index query", "slow sql join on a table", "banana bread baking recipe"])
    assert float(a @ b) > float(a @ c) and float(a @ b) > float(b @ c)


def _toy() -> tuple[list[str], list[list[int]], list[str]]:
    texts = [f"alpha bravo {i}" for i in range(20)] + [f"charlie delta {i}" for i in range(20)]
    texts += [f"echo foxtrot {i}" for i in range(20)]
    labels = [[0]] * 20 + [[1]] * 20 + [[]] * 20
    return texts, labels, ["a", "b", OFF_TOPIC]


def test_fitted_tier_separates_classes_and_the_off_topic_ones(fake: FakeEncoder) -> None:
    texts, labels, classes = _toy()
    tier = fit_tier("fake", texts, labels, [1.0] * len(texts), [True] * len(texts), classes)
    head, votes = tier.signals(tier.embed("alpha bravo"))
    assert head[0] > head[1] and votes[0] > votes[1]
    head, _ = tier.signals(tier.embed("echo foxtrot"))
    assert head[2] > max(head[0], head[1])
    assert tier.represented == frozenset({0, 1})


def test_tier_survives_a_save_and_load(fake: FakeEncoder, tmp_path: Path) -> None:
    texts, labels, classes = _toy()
    tier = fit_tier("fake", texts, labels, [1.0] * len(texts), [True] * len(texts), classes)
    tier.save(tmp_path / "t.npz")
    again = SemanticTier.load(tmp_path / "t.npz")
    q = tier.embed("charlie delta bravo")
    h1, v1 = tier.signals(q)
    h2, v2 = again.signals(q)
    assert np.allclose(h1, h2, atol=1e-3) and np.allclose(v1, v2, atol=1e-3)
    assert again.blend == tier.blend and again.represented == tier.represented and again.classes == classes


def test_zero_shot_cards_are_boosted_never_lowered(fake: FakeEncoder) -> None:
    texts, labels, classes = _toy()
    examples = [lb != [0] for lb in labels]  # class "a" has only card text: zero-shot
    tier = fit_tier("fake", texts, labels, [1.0] * len(texts), examples, classes)
    tier.blend = Blend(head=0.3, knn=0.3, zero_knn=1.0, zero_head=1.0)
    assert 0 not in tier.represented
    rng = random.Random(3)
    for _ in range(50):
        conf = {"a": rng.random(), "b": rng.random()}
        out, _ = tier.apply(rng.choice(texts), conf, 0.1)
        assert out["a"] >= conf["a"] - 1e-12


def test_load_or_fit_caches_the_tier_and_reuses_it(fake: FakeEncoder, tmp_path: Path) -> None:
    cards = load_cards()
    first = load_or_fit(cards, [], cache_dir=tmp_path, semantic="fake")
    assert first.semantic is not None and fake.calls > 0
    assert len(list(tmp_path.glob("model-*.fake-test.npz"))) == 1
    fake.calls = 0
    again = load_or_fit(cards, [], cache_dir=tmp_path, semantic="fake")
    assert again.semantic is not None and fake.calls == 0  # loaded, nothing embedded
    conf, _ = again.assess("zzz unrelated words")
    assert fake.calls == 1 and set(conf) == set(cards)


def test_semantic_off_and_missing_numpy_route_lexically(monkeypatch: pytest.MonkeyPatch) -> None:
    assert semantic.resolve("off") is None
    monkeypatch.setattr(semantic, "numpy_available", lambda: False)
    assert semantic.resolve("static") is None and semantic.resolve("auto") is None


def test_minilm_without_the_extra_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "minilm_available", lambda: False)
    with pytest.raises(ConfigError, match="embed"):
        semantic.resolve("minilm")
    assert semantic.resolve("auto") == "static"


def test_shipped_semantic_tier_matches_the_shipped_model() -> None:
    from crossroads.router.examples import example_files

    key = model_key(load_cards(), example_files([]))
    shipped = sorted(PACKAGED_FITTED.glob("model-*.npz"))
    assert shipped == [PACKAGED_FITTED / f"model-{key}.{semantic.encoder_id('static')}.npz"], (
        "the shipped semantic tier is stale: run `crossroads route build`"
    )
    tier = SemanticTier.load(shipped[0])
    assert tier.classes[:-1] == sorted(load_cards()) and tier.classes[-1] == OFF_TOPIC


def test_sparse_naive_bayes_equals_the_dense_log_count_ratios() -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(40)]
    docs = [
        Doc(
            " ".join(rng.choices(vocab, k=8)), tuple(rng.sample(["x", "y", "z"], rng.randint(0, 2))), rng.random() + 0.5
        )
        for _ in range(60)
    ]
    model = fit(docs, ["x", "y", "z"])
    classes = model.classes
    # Dense reference: w[c][f] = log((pos + a) / Sp) - log((neg + a) / Sn) over the same tf-idf rows.
    feats = list(model.idf)
    alpha = DEFAULT_HYPER.alpha
    rows = [model.weigh(Counter(features(d.text))) for d in docs]
    dense = {}
    for c in classes:
        pos = dict.fromkeys(feats, alpha)
        neg = dict.fromkeys(feats, alpha)
        for d, row in zip(docs, rows, strict=True):
            hit = c in d.labels or (c == OFF_TOPIC and not d.labels)
            for f, v in row.items():
                (pos if hit else neg)[f] += v * d.weight
        sp, sn = sum(pos.values()), sum(neg.values())
        dense[c] = {f: math.log(pos[f] / sp) - math.log(neg[f] / sn) for f in feats}
    for _ in range(20):
        vec = model.weigh(Counter(features(" ".join(rng.choices(vocab, k=5)))))
        got = model.raw_vector(vec)
        want = [sum(v * dense[c][f] for f, v in vec.items() if f in dense[c]) for c in classes]
        assert got == pytest.approx(want, abs=1e-3)


def test_boilerplate_shared_by_many_cards_is_not_training_text() -> None:
    cards = load_cards([FIXTURE_CARDS], include_packaged=False)
    texts = Counter(d.text for d in training_docs(cards, [], DEFAULT_HYPER))
    per_card = Counter(d.text for c in cards.values() for d in card_docs(c, 1.0))
    shared = [t for t, n in per_card.items() if n >= 3]
    assert shared, "the fixture repeats checklists across cards"
    assert not any(t in texts for t in shared)
    assert len(cards) == 100


def test_user_folder_alone_routes_zero_shot() -> None:
    cards = load_cards([FIXTURE_CARDS], include_packaged=False)
    from crossroads.router.cascade import build_local
    from crossroads.router.examples import load_examples

    router = build_local(cards, RouterSettings(), cache_dir=None)
    rows = load_examples(FIXTURE_CARDS.parent / "user_cards_questions.jsonl", cards)
    questions = [q for q in rows if q.labels]
    top1 = sum(max(router.scores(q.question).items(), key=lambda kv: kv[1])[0] == q.labels[0] for q in questions)
    assert top1 / len(questions) > 0.4  # 100 candidates: chance is 0.01; the bench reports the real figure
    off_topic = [q for q in rows if not q.labels]
    assert off_topic and sum(router.decide(q.question).abstain for q in off_topic) >= 0.8 * len(off_topic)
    answered = sum(not router.decide(q.question).abstain for q in questions)
    assert answered >= 0.75 * len(questions)  # the off-topic class, calibrated on card text, does not gate them


def _decision(best: float, agents: list[str]) -> RouteDecision:
    return RouteDecision(
        targets=[RouteTarget(agent=a, confidence=best, sub_question="q") for a in agents],
        abstain=not agents,
        stage="local",
        scores={"x": best},
    )


def test_cascade_report_splits_by_the_escalation_test() -> None:
    examples = [Example("sure right", ("x",)), Example("sure wrong", ("y",)), Example("unsure right", ("x",))]
    table = {"sure right": (0.9, ["x"]), "sure wrong": (0.9, ["x"]), "unsure right": (0.2, ["x"])}

    def decide(q: str) -> RouteDecision:
        return _decision(*table[q])

    rep = cascade_report(
        decide,
        lambda d: "low" if d.scores["x"] < 0.5 else None,
        examples,
        cascade_confidence=0.5,
        cascade_margin=0.0,
        llm_configured=False,
    )
    assert (rep.n, rep.escalated) == (3, 1) and rep.escalated_share == pytest.approx(1 / 3)
    assert rep.kept.n == 2 and rep.kept.primary_accuracy == pytest.approx(0.5)
    assert rep.escalated_local.primary_accuracy == 1.0 and rep.local.n == 3


def test_off_topic_raw_shortcut_equals_the_full_scores() -> None:
    cards = load_cards([FIXTURE_CARDS], include_packaged=False)
    docs = training_docs(cards, [Example(f"unrelated pastime number {i}", ()) for i in range(40)], DEFAULT_HYPER)
    model = fit(docs, sorted(cards))
    assert model.classes[-1] == OFF_TOPIC
    for text in ("goroutine leak in a worker pool", "how do I bake bread", "terraform state lock"):
        vec = model.vector(text)
        assert model.raw_off_topic(vec)[-1] == pytest.approx(model.raw_vector(vec)[-1], abs=1e-9)
