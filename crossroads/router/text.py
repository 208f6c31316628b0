"""Text to features for the local router: tokens that survive code, error messages and terse titles.

Real questions mix prose with identifiers (`pd.read_csv`, `useEffect`, `ERR_CONNECTION_REFUSED`,
`kube-proxy`), so a compound token is kept whole *and* split into its parts; camelCase is split too.
A light suffix stemmer folds plurals and verb forms so card prose ("containers", "deploying") meets
question wording ("container", "deploy"). Pure Python: importing this module costs nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

_COMPOUND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+#/\-]*[A-Za-z0-9_+#]|[A-Za-z0-9]")
_PARTS = re.compile(r"[._/\-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_CODE_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
# Sentence ends, line breaks and list bullets; code blocks are masked before splitting.
_SEGMENT_END = re.compile(r"(?<=[.?!;:])\s+(?=[A-Z0-9`\"'(])|\n\s*\n|\n\s*(?:[-*•]|\d+[.)])\s+|(?<=\?)\s+")

# A sentence that asks two things ("deploy it on Kubernetes, and which metrics do I monitor?") is two
# segments: each may belong to a different specialist.
_CLAUSE = re.compile(
    r",\s+(?:and|but|also|plus)\s+(?=\w+\s+\w+\s+\w+)|;\s+|\s+and\s+(?=(?:which|what|how|where|when|"
    r"why|who|should|do|does|can|is|are)\s)",
    re.I,
)

STOP = frozenset(
    """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing don done down during each either else etc even ever
    every few for from further get gets getting got had has have having he her here hers him his how i
    if im in into is isn it its itself ive just kind let like ll lot lots may me might mine more most
    much must my myself need needs no nor not now of off often on once one only or other our ours out
    over own per please quite rather re really s same say says see seems shall she should so some
    someone something still such sure t than thank thanks that thats the their them then there these
    they thing things this those though through thus to too try trying under until up us use used uses
    using ve very via want wants was way ways we well were what whats when where whether which while who
    whom why will with within without would yet you your yours yourself hi hello hey anyone everyone""".split()
)


@lru_cache(maxsize=1 << 16)
def stem(token: str) -> str:
    """Fold common English suffixes; identifiers with digits or symbols are left alone."""
    if len(token) <= 4 or not token.isalpha():
        return token
    for suffix, repl, min_len in (
        ("ies", "y", 5),
        ("sses", "ss", 6),
        ("ing", "", 7),
        ("ed", "", 6),
        ("es", "", 6),
        ("s", "", 5),
    ):
        if token.endswith(suffix) and len(token) >= min_len:
            if suffix == "s" and token.endswith(("ss", "us", "is")):
                return token
            if suffix == "es" and not token.endswith(("ches", "shes", "xes", "zes")):
                continue
            token = token[: len(token) - len(suffix)] + repl
            break
    # "cache", "cached", "caching" and "caches" all meet at "cach".
    return token[:-1] if token.endswith("e") and len(token) > 4 else token


def tokens(text: str) -> list[str]:
    """Content tokens, stemmed, in order; compounds and their parts both appear."""
    out: list[str] = []
    for raw in _COMPOUND.findall(text):
        low = raw.lower()
        if len(low) > 40:  # hashes, base64, long paths: noise
            continue
        parts = [p for p in _PARTS.split(low) if p]
        if len(parts) > 1:
            out.append(low)
        else:
            camel = _CAMEL.findall(raw)
            if len(camel) > 1:
                out.append(low)
                parts = [c.lower() for c in camel]
        for part in parts:
            if part not in STOP and not part.isdigit():
                out.append(stem(part))
    return out


def features(text: str) -> list[str]:
    """The classifier's features: stemmed tokens and whole compounds.

    Word bigrams and word-prefix n-grams were measured too: no better on the dev split, and 4x slower
    to fit, so they are left out. Character 3-5-grams inside words (as a separately normalised block)
    gained at most 0.01 primary accuracy in 5-fold CV and made fitting ten times slower.
    """
    return tokens(text)


def has_code(text: str) -> bool:
    """Whether the text holds a fenced code block."""
    return "```" in text and _CODE_FENCE.search(text) is not None


def segments(text: str) -> list[str]:
    """Sentences and list items of a question, with fenced code kept whole inside its segment."""
    blocks: list[str] = []

    def mask(match: re.Match[str]) -> str:
        blocks.append(match.group(0))
        return f"\x00{len(blocks) - 1}\x00"

    masked = _CODE_FENCE.sub(mask, text)
    parts = [
        c.strip() for p in _SEGMENT_END.split(masked) if p and p.strip() for c in _CLAUSE.split(p) if c and c.strip()
    ]
    restore = re.compile(r"\x00(\d+)\x00")
    return [restore.sub(lambda m: blocks[int(m.group(1))], p) for p in parts] or [text.strip()]
