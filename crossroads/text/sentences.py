"""Sentences, list items and clauses of a question.

A question that asks two things ("deploy it on Kubernetes, and which metrics do I monitor?") is two
segments: each may belong to a different specialist (the router's split, and the offline model's
handoffs). Fenced code stays whole inside its segment.
"""

from __future__ import annotations

import re

from crossroads.text.fences import FENCE

# Sentence ends, line breaks and list bullets; code blocks are masked before splitting.
_SENTENCE_END = re.compile(r"(?<=[.?!;:])\s+(?=[A-Z0-9`\"'(])|\n\s*\n|\n\s*(?:[-*•]|\d+[.)])\s+|(?<=\?)\s+")
# Conjunctions that start a second request inside one sentence.
_CLAUSE = re.compile(
    r",\s+(?:and|but|also|plus)\s+(?=\w+\s+\w+\s+\w+)|;\s+|\s+and\s+(?=(?:which|what|how|where|when|"
    r"why|who|should|do|does|can|is|are)\s)",
    re.I,
)
_MASKED = re.compile(r"\x00(\d+)\x00")


def _split(text: str, *, clauses: bool) -> list[str]:
    blocks: list[str] = []

    def mask(match: re.Match[str]) -> str:
        blocks.append(match.group(0))
        return f"\x00{len(blocks) - 1}\x00"

    masked = FENCE.sub(mask, text)
    parts = [p.strip() for p in _SENTENCE_END.split(masked) if p and p.strip()]
    if clauses:
        parts = [c.strip() for p in parts for c in _CLAUSE.split(p) if c and c.strip()]
    return [_MASKED.sub(lambda m: blocks[int(m.group(1))], p) for p in parts]


def sentences(text: str) -> list[str]:
    """Sentences and list items, fenced code kept whole inside its sentence."""
    return _split(text, clauses=False)


def segments(text: str) -> list[str]:
    """Sentences split further at conjunctions that start a second request; never empty for real text."""
    return _split(text, clauses=True) or [text.strip()]


def clauses(text: str) -> list[str]:
    """Like `segments`, but empty for blank text (callers iterate over the parts)."""
    return _split(text, clauses=True)
