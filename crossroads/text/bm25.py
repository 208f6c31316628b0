"""Okapi BM25: the ranking behind the offline model's card sections and the router's nearest examples."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from crossroads.text.tokens import tokens

K1 = 1.4
B = 0.75


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def term_score(tf: int, idf_value: float, length: int, avg_length: float, k1: float = K1, b: float = B) -> float:
    """The contribution of one term occurring `tf` times in a document of `length` tokens."""
    norm = k1 * (1 - b + b * length / (avg_length or 1.0))
    return idf_value * tf * (k1 + 1) / (tf + norm)


class BM25:
    """BM25 over a fixed list of documents, tokenised with `crossroads.text.tokens`."""

    def __init__(self, documents: Sequence[str], *, k1: float = K1, b: float = B) -> None:
        self.docs = [Counter(tokens(d)) for d in documents]
        self.lengths = [sum(c.values()) for c in self.docs]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: idf(f, n) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        terms = set(tokens(query))
        out: list[float] = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            score = 0.0
            for term in terms:
                tf = doc.get(term)
                if tf:
                    score += term_score(tf, self.idf[term], length, self.avg, self.k1, self.b)
            out.append(score)
        return out

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        ranked = sorted(enumerate(self.scores(query)), key=lambda kv: (-kv[1], kv[0]))
        return [(i, s) for i, s in ranked[:k] if s > 0]
