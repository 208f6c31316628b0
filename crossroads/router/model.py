"""The local classifier: TF-IDF features, one-vs-rest linear scores, Platt-calibrated confidences.

Training documents are the cards themselves (description, each capability, each section and each
bullet of a section) plus labelled examples; off-topic examples are negatives for every specialist.
The card text gives breadth of vocabulary (every tool a card names becomes evidence for it), the
examples teach how people actually phrase questions. A user's card with no examples still gets a
weight vector from its own text, so it receives questions about its subject.

Unknown words still count in a question's length normalisation: a question made mostly of words no
card or example uses (an off-topic one) gets low scores everywhere, which is the abstain signal.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossroads.router.labels import MIN_CALIBRATION_EXAMPLES, OFF_TOPIC
from crossroads.router.neighbours import NeighbourIndex
from crossroads.text import has_code, tokens

if TYPE_CHECKING:
    from crossroads.router.semantic import SemanticTier


def features(text: str) -> list[str]:
    """The classifier's features: stemmed tokens and whole compounds (`crossroads.text.tokens`).

    Word bigrams and word-prefix n-grams were measured too: no better on the dev split, and 4x slower
    to fit, so they are left out. Character 3-5-grams inside words (as a separately normalised block)
    gained at most 0.01 primary accuracy in 5-fold CV and made fitting ten times slower.
    """
    return tokens(text)


MODEL_VERSION = 7
UNKNOWN = "\x00unknown"
"""Synthetic feature: the share of the question's weight carried by words no document uses."""


@dataclass(frozen=True, slots=True)
class Doc:
    """One training document: a question or a piece of card text, with its labels."""

    text: str
    labels: tuple[str, ...]
    weight: float = 1.0
    from_card: bool = False
    """Card text trains the weights but not the calibration (questions are not phrased like cards)."""


@dataclass(frozen=True, slots=True)
class Hyper:
    """Training knobs, chosen by measurement on a dev split of the packaged examples."""

    epochs: int = 12
    learning_rate: float = 0.5
    l2: float = 1e-5
    unknown_idf_share: float = 0.5
    """An unknown token counts in the norm with this share of the largest idf (the off-topic signal)."""
    card_weight: float = 1.5
    """Sample weight of card-derived documents relative to a labelled example."""
    seed: int = 13
    method: str = "nb"
    """`nb`: smoothed log-count ratios (one pass, fits in milliseconds); `logreg`: Adagrad logistic."""
    alpha: float = 0.1
    """Additive smoothing of the `nb` ratios."""
    off_power: float = 2.0
    """How strongly the off-topic confidence discounts the specialists' (2 measured best on dev)."""
    off_override: float = 32.0
    """A specialist escapes the off-topic discount in proportion to its confidence ** off_override, so
    only a near-certain one is not vetoed by the off-topic class (a user's card about a subject that the
    packaged off-topic examples cover, such as music). 0 turns it off; 32 is neutral in 5-fold CV."""
    knn_k: int = 5
    """Nearest labelled examples that vote (5-fold CV: 5 beat 8, 10 and 15)."""
    knn_weight: float = 0.25
    """Share of the votes in a specialist's confidence (5-fold CV: flat between 0.2 and 0.3; 0 turns it off)."""


DEFAULT_HYPER = Hyper()


Row = tuple[float, list[tuple[int, float]]]
"""A feature's weights, sparse: `(shared, [(class, delta), ...])`.

The weight of the feature for class c is `shared + class_shift[c] + delta[c]`, with delta 0 for the
classes whose documents never use the feature. Naive-Bayes log-count ratios have exactly this form
(a feature unseen in class c has weight log(alpha) - log(total + alpha) + const_c), so storing only
the classes that use a feature is exact: a fit for 100 user cards is 100x smaller and faster than a
dense class x feature table, and one for the five packaged cards is the same size as before.
"""


@dataclass(slots=True)
class LocalModel:
    """The fitted classifier: idf, per-class weights, calibration and the neighbour index."""

    classes: list[str]
    idf: dict[str, float]
    unknown_idf: float
    weights: dict[str, Row]
    bias: list[float]
    class_shift: list[float] = field(default_factory=list)
    """Per class, added once per unit of known feature weight (see `Row`); empty means zeros."""
    calibration: list[tuple[float, float]] = field(default_factory=list)
    """Per class `(a, b)`: confidence = sigmoid(a * raw + b)."""
    off_power: float = 1.0
    """Specialist confidence p' = p * (1 - off * (1 - p ** off_override)) ** off_power."""
    off_override: float = 0.0
    neighbours: NeighbourIndex | None = None
    """The labelled examples for similarity votes (`neighbours.py`); None: the linear scores alone."""
    knn_k: int = 5
    knn_weight: float = 0.0
    semantic: SemanticTier | None = None
    """The embedding tier (`semantic.py`), stored in its own file beside the JSON; None: lexical only."""

    def vector(self, text: str) -> dict[str, float]:
        return self.weigh(Counter(features(text)))

    def weigh(self, counts: Mapping[str, int]) -> dict[str, float]:
        """Sublinear tf-idf of the known features, normalised over known and unknown ones."""
        vec: dict[str, float] = {}
        norm = unknown = 0.0
        for feat, n in counts.items():
            idf = self.idf.get(feat)
            value = (1.0 + math.log(n)) * (idf if idf is not None else self.unknown_idf)
            norm += value * value
            if idf is not None:
                vec[feat] = value
            else:
                unknown += value * value
        if norm:
            scale = 1.0 / math.sqrt(norm)
            for feat in vec:
                vec[feat] *= scale
        vec[UNKNOWN] = math.sqrt(unknown / norm) if norm else 1.0
        return vec

    def raw(self, text: str) -> list[float]:
        return self.raw_vector(self.vector(text))

    def raw_vector(self, vec: Mapping[str, float]) -> list[float]:
        scores = list(self.bias)
        weights = self.weights
        known = shared = 0.0
        for feat, value in vec.items():
            row = weights.get(feat)
            if row is not None:
                known += value
                shared += row[0] * value
                for c, w in row[1]:
                    scores[c] += w * value
        if self.class_shift:
            return [s + shared + k * known for s, k in zip(scores, self.class_shift, strict=True)]
        return [s + shared for s in scores]

    def raw_off_topic(self, vec: Mapping[str, float]) -> list[float]:
        """`raw_vector` for the off-topic class alone (the last one; the others are 0).

        Deltas are stored in class order, so the off-topic one is the last of a row: one look per
        feature instead of one per class (calibrating a 100-card folder scores thousands of card texts).
        """
        off = len(self.classes) - 1
        total = self.bias[off]
        known = 0.0
        for feat, value in vec.items():
            row = self.weights.get(feat)
            if row is not None:
                known += value
                total += row[0] * value
                if row[1] and row[1][-1][0] == off:
                    total += row[1][-1][1] * value
        if self.class_shift:
            total += self.class_shift[off] * known
        out = [0.0] * len(self.classes)
        out[off] = total
        return out

    def confidences(self, text: str) -> dict[str, float]:
        return self.assess(text)[0]

    def assess(self, text: str) -> tuple[dict[str, float], float | None]:
        """Specialist confidences and the off-topic class's own confidence.

        The linear model is blended with the nearest examples' votes; the off-topic confidence is None
        when no off-topic examples were given.
        """
        counts = Counter(features(text))
        technical = has_code(text)
        conf, off = self.calibrated(self.raw_vector(self.weigh(counts)), technical)
        if self.neighbours is not None and self.knn_weight:
            votes = self.neighbours.votes(counts, len(self.classes), self.knn_k)
            conf = self.neighbours.blend(conf, self.classes, votes, self.knn_weight)
        if self.semantic is not None:
            conf, sem_off = self.semantic.apply(text, conf, off)
            off = off if technical else sem_off
        return conf, off

    def calibrated(self, raw: Sequence[float], technical: bool = False) -> tuple[dict[str, float], float | None]:
        """Specialist confidences from raw scores, discounted by the off-topic confidence (also returned).

        `technical`: the text carries a fenced code block, which off-topic questions do not; the
        off-topic class then neither discounts nor gates (0), however unfamiliar the words are.
        """
        cal = self.calibration or [(1.0, 0.0)] * len(self.classes)
        conf = {c: _sigmoid(a * r + b) for c, r, (a, b) in zip(self.classes, raw, cal, strict=True)}
        if OFF_TOPIC not in conf:
            return conf, None
        off = 0.0 if technical else conf.pop(OFF_TOPIC)
        conf.pop(OFF_TOPIC, None)
        k, power = self.off_override, self.off_power
        if not k:
            keep = (1.0 - off) ** power
            return {c: p * keep for c, p in conf.items()}, off
        return {c: p * (1.0 - off * (1.0 - p**k)) ** power for c, p in conf.items()}, off

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "classes": self.classes,
            "idf": self.idf,
            "unknown_idf": self.unknown_idf,
            "weights": {f: [g, [list(cw) for cw in row]] for f, (g, row) in self.weights.items()},
            "bias": self.bias,
            "class_shift": self.class_shift,
            "calibration": self.calibration,
            "off_power": self.off_power,
            "off_override": self.off_override,
            "knn_k": self.knn_k,
            "knn_weight": self.knn_weight,
            "neighbours": self.neighbours.to_json() if self.neighbours is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocalModel:
        return cls(
            classes=list(data["classes"]),
            idf=dict(data["idf"]),
            unknown_idf=data["unknown_idf"],
            weights={f: (g, [(c, w) for c, w in row]) for f, (g, row) in data["weights"].items()},
            bias=list(data["bias"]),
            class_shift=list(data["class_shift"]),
            calibration=[tuple(p) for p in data["calibration"]],
            off_power=data["off_power"],
            off_override=data["off_override"],
            knn_k=data["knn_k"],
            knn_weight=data["knn_weight"],
            neighbours=NeighbourIndex.from_json(data["neighbours"]) if data["neighbours"] else None,
        )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def fit(
    docs: Sequence[Doc], classes: Sequence[str], hyper: Hyper = DEFAULT_HYPER, *, semantic: str | None = None
) -> LocalModel:
    """Fit idf and the one-vs-rest weights, then calibrate on out-of-fold scores of the examples.

    `semantic` names an encoder (`static`, `minilm`) whose tier is fitted on the same documents.
    """
    counts = [Counter(features(doc.text)) for doc in docs]
    if any(not doc.labels for doc in docs):
        classes = [*classes, OFF_TOPIC]
    model = _fit_linear(docs, counts, classes, hyper)
    model.calibration = _calibrate(docs, counts, classes, hyper)
    model.off_power = hyper.off_power
    model.off_override = hyper.off_override
    examples = [i for i, doc in enumerate(docs) if not doc.from_card]
    index = {c: i for i, c in enumerate(classes)}
    model.neighbours = NeighbourIndex.build(
        [counts[i] for i in examples], [[index[lb] for lb in docs[i].labels] for i in examples]
    )
    model.knn_k, model.knn_weight = hyper.knn_k, hyper.knn_weight
    if semantic is not None:
        model.semantic = fit_semantic(docs, classes, semantic)
    return model


def fit_semantic(docs: Sequence[Doc], classes: Sequence[str], kind: str) -> SemanticTier:
    """The semantic tier over the same documents and classes (the off-topic class last, if any)."""
    from crossroads.router.semantic import fit_tier

    index = {c: i for i, c in enumerate(classes)}
    return fit_tier(
        kind,
        [d.text for d in docs],
        [[index[lb] for lb in d.labels] for d in docs],
        [d.weight for d in docs],
        [not d.from_card for d in docs],
        classes,
    )


def _fit_linear(
    docs: Sequence[Doc], counts: Sequence[Counter[str]], classes: Sequence[str], hyper: Hyper
) -> LocalModel:
    model, rows, targets, names = _prepare(docs, counts, classes, hyper)
    if hyper.method == "nb":
        model.weights, model.class_shift = _nb_weights(docs, rows, targets, len(classes), names, hyper)
        return model
    w, bias = _logreg_weights(docs, rows, targets, len(classes), len(names), hyper)
    model.weights = {
        names[i]: (0.0, [(c, round(w[c][i], 5)) for c in range(len(classes))])
        for i in range(len(names))
        if any(abs(w[c][i]) > 1e-4 for c in range(len(classes)))
    }
    model.bias = bias
    return model


def _prepare(
    docs: Sequence[Doc], counts: Sequence[Counter[str]], classes: Sequence[str], hyper: Hyper
) -> tuple[LocalModel, list[list[tuple[int, float]]], list[list[int]], list[str]]:
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    n_docs = len(docs)
    idf = {f: math.log((1 + n_docs) / (1 + n)) + 1.0 for f, n in df.items() if n >= 1}
    unknown = hyper.unknown_idf_share * (max(idf.values()) if idf else 1.0)
    idf[UNKNOWN] = 1.0
    model = LocalModel(classes=list(classes), idf=idf, unknown_idf=unknown, weights={}, bias=[0.0] * len(classes))
    index = {f: i for i, f in enumerate(idf)}
    rows = [[(index[f], v) for f, v in model.weigh(c).items()] for c in counts]
    column = {c: i for i, c in enumerate(classes)}
    targets = [[column[lb] for lb in doc.labels if lb in column] or _off(column) for doc in docs]
    return model, rows, targets, list(index)


def _off(column: Mapping[str, int]) -> list[int]:
    return [column[OFF_TOPIC]] if OFF_TOPIC in column else []


def _nb_weights(
    docs: Sequence[Doc],
    rows: list[list[tuple[int, float]]],
    targets: list[list[int]],
    n_classes: int,
    names: Sequence[str],
    hyper: Hyper,
) -> tuple[dict[str, Row], list[float]]:
    """One-vs-rest log-count ratios: how much likelier a feature is in a class's documents than elsewhere.

    w[c][f] = log((pos + a) / Sp_c) - log((total - pos + a) / Sn_c). Only (class, feature) pairs with
    pos > 0 are visited, so the cost is that of reading the documents once, whatever the class count.
    """
    alpha = hyper.alpha
    n_feats = len(names)
    total = [0.0] * n_feats
    pos: list[dict[int, float]] = [{} for _ in range(n_classes)]
    for d, row in enumerate(rows):
        sw = docs[d].weight
        labelled = [pos[c] for c in targets[d]]
        for i, v in row:
            x = v * sw
            total[i] += x
            for acc in labelled:
                acc[i] = acc.get(i, 0.0) + x
    grand = sum(total) + alpha * n_feats
    shift = []
    for c in range(n_classes):
        p_c = sum(pos[c].values())
        shift.append(math.log(grand - p_c) - math.log(p_c + alpha * n_feats))  # log Sn_c - log Sp_c
    log_a = math.log(alpha)
    shared = [log_a - math.log(t + alpha) for t in total]
    deltas: list[list[tuple[int, float]]] = [[] for _ in range(n_feats)]
    for c in range(n_classes):
        for i, p in pos[c].items():
            t = total[i]
            deltas[i].append((c, round(math.log(p + alpha) - math.log(t - p + alpha) - shared[i], 5)))
    return {names[i]: (round(shared[i], 5), deltas[i]) for i in range(n_feats)}, shift


def _logreg_weights(
    docs: Sequence[Doc],
    rows: list[list[tuple[int, float]]],
    targets: list[list[int]],
    n_classes: int,
    n_feats: int,
    hyper: Hyper,
) -> tuple[list[list[float]], list[float]]:
    classes = range(n_classes)
    index = range(n_feats)
    w = [[0.0] * len(index) for _ in classes]
    g2 = [[1e-8] * len(index) for _ in classes]  # Adagrad accumulators
    bias = [0.0] * len(classes)
    order = list(range(len(docs)))
    rng = random.Random(hyper.seed)
    lr, l2 = hyper.learning_rate, hyper.l2
    for _ in range(hyper.epochs):
        rng.shuffle(order)
        for d in order:
            row, sw = rows[d], docs[d].weight
            for c in range(len(classes)):
                wc, gc = w[c], g2[c]
                z = bias[c]
                for i, v in row:
                    z += wc[i] * v
                grad = (_sigmoid(z) - (c in targets[d])) * sw
                bias[c] -= 0.1 * lr * grad
                for i, v in row:
                    g = grad * v + l2 * wc[i]
                    gc[i] += g * g
                    wc[i] -= lr * g / math.sqrt(gc[i])
    return w, bias


def _calibrate(
    docs: Sequence[Doc], counts: Sequence[Counter[str]], classes: Sequence[str], hyper: Hyper, folds: int = 3
) -> list[tuple[float, float]]:
    """Platt scaling per class from out-of-fold raw scores of the labelled examples (not card text)."""
    examples = [i for i, d in enumerate(docs) if not d.from_card]
    if len(examples) < 30:
        return [(1.0, 0.0)] * len(classes)
    rng = random.Random(hyper.seed)
    rng.shuffle(examples)
    # A user's folder with no examples leaves only the packaged off-topic questions: Platt scaling would
    # have positives alone and the off-topic confidence would stay raw, high for almost any short
    # question (it gated 193 of 200 questions written for a 100-card fixture). Then the same folds also
    # hold out card text, which is what such a folder knows to be on-topic: the off-topic class's
    # negatives (card classes keep the shared fallback: per-card calibration on card text scrambled
    # their ranking).
    zero_shot = OFF_TOPIC in classes and not any(docs[i].labels for i in examples)
    cards = [i for i, d in enumerate(docs) if d.from_card] if zero_shot else []
    random.Random(hyper.seed + 1).shuffle(cards)
    raws: list[tuple[list[float], tuple[str, ...]]] = []
    for k in range(folds):
        held = set(examples[k::folds]) | set(cards[k::folds])
        keep = [i for i in range(len(docs)) if i not in held]
        sub = _fit_linear([docs[i] for i in keep], [counts[i] for i in keep], classes, hyper)
        raws.extend((sub.raw_vector(sub.weigh(counts[i])), docs[i].labels) for i in held if not docs[i].from_card)
        raws.extend((sub.raw_off_topic(sub.weigh(counts[i])), (_CARD_TEXT,)) for i in held if docs[i].from_card)
    fitted: list[tuple[float, float] | None] = []
    for c, name in enumerate(classes):
        rows = raws if name == OFF_TOPIC else [r for r in raws if r[1] != (_CARD_TEXT,)]
        ys = [1.0 if name in labels or (name == OFF_TOPIC and not labels) else 0.0 for _, labels in rows]
        fitted.append(_platt([r[c] for r, _ in rows], ys) if sum(ys) >= MIN_CALIBRATION_EXAMPLES else None)
    known = [p for p, name in zip(fitted, classes, strict=True) if p is not None and name != OFF_TOPIC]
    # A class with few examples (a user's new card) borrows the others' mean calibration.
    mean = (sum(a for a, _ in known) / len(known), sum(b for _, b in known) / len(known)) if known else (1.0, 0.0)
    return [p if p is not None else mean for p in fitted]


_CARD_TEXT = "\x00card"
"""A label no class has: card-text rows are negatives for the off-topic class and nothing else."""


def _platt(xs: Sequence[float], ys: Sequence[float], steps: int = 300) -> tuple[float, float]:
    """1-D logistic regression by Newton steps, with Platt's smoothed targets."""
    pos = sum(ys)
    neg = len(ys) - pos
    if not pos or not neg:
        return 1.0, 0.0
    hi, lo = (pos + 1) / (pos + 2), 1 / (neg + 2)
    t = [hi if y else lo for y in ys]
    a, b = 1.0, 0.0
    for _ in range(steps):
        ga = gb = haa = hab = hbb = 0.0
        for x, ti in zip(xs, t, strict=True):
            p = _sigmoid(a * x + b)
            d = p - ti
            s = max(p * (1 - p), 1e-9)
            ga += d * x
            gb += d
            haa += s * x * x
            hab += s * x
            hbb += s
        det = haa * hbb - hab * hab
        if abs(det) < 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) < 1e-7 and abs(db) < 1e-7:
            break
    return a, b
