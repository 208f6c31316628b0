"""Words to tokens: what survives code, error messages and terse titles.

Real questions mix prose with identifiers (`pd.read_csv`, `useEffect`, `ERR_CONNECTION_REFUSED`,
`kube-proxy`), so a compound token is kept whole *and* split into its parts; camelCase is split too.
A light suffix stemmer folds plurals and verb forms so card prose ("containers", "deploying") meets
question wording ("container", "deploy"). The router's features and every BM25 index use this one
tokeniser.
"""

from __future__ import annotations

import re
from functools import lru_cache

_COMPOUND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+#/\-]*[A-Za-z0-9_+#]|[A-Za-z0-9]")
_PARTS = re.compile(r"[._/\-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

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
    whom why will with within without would yet you your yours yourself hi hello hey anyone everyone against best good
    know make many theirs two""".split()
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
