"""Math claims in a question, as `check_math` reads them: `left = right` (or another relation).

The offline model sends every claim a sentence states to `check_math` instead of trusting it; prose that
merely contains an `=` or numbers ("3 replicas = 6 pods") is not a claim.
"""

from __future__ import annotations

import re

from crossroads.text import sentences, strip_code

_MATH_WORDS = frozenset(
    "sin cos tan cot sec csc asin acos atan sinh cosh tanh log ln exp sqrt pi abs det diff integrate limit "
    "sum oo inf infinity factorial binomial floor ceiling gcd lcm mod".split()
)
_OPERATOR = re.compile(r"(?<![=<>!~])(==|=|≈|~=|!=|≠|<=|>=|≤|≥|<|>)(?![=>])")
_CLAIM_VERBS = re.compile(r"\s+(?:is equal to|equals|is approximately|is about|is roughly|equal to)\s+", re.I)
_CALCULUS = re.compile(r"\b(?:derivative|integral|limit|antiderivative)\s+of\b.+?\b(?:is|equals|=)\s+\S.*", re.I)
_STATS = re.compile(
    r"\b(?:f1|f-1|f1[- ]score|f-score|accuracy|precision|recall|mean|variance|std|"
    r"standard deviation|median)\b.*\d.*(?:=|\bis\b|\bequals\b|≈).*\d",
    re.I,
)
_LEAD = re.compile(
    r"^(?:(?:is it true that|check that|check whether|check if|verify that|verify|confirm that|"
    r"can you (?:check|verify|confirm)(?: that| whether)?|also|and|so|i think|i believe|"
    r"does|is|my claim:?|claim:?|math:?)\s+)+",
    re.I,
)
_TRAIL = re.compile(r"(?:,?\s*(?:right|correct|true|isn't it|no)\s*)?[?.!]*\s*$", re.I)


def math_claims(text: str, limit: int = 3) -> list[str]:
    """Sentences that state a checkable arithmetic, statistical or symbolic claim."""
    claims: list[str] = []
    for sentence in sentences(strip_code(text).replace("`", "")):
        claim = claim_in(sentence)
        if claim and claim not in claims:
            claims.append(claim)
        if len(claims) >= limit:
            break
    return claims


def claim_in(sentence: str) -> str | None:
    s = _TRAIL.sub("", _LEAD.sub("", sentence.strip()))
    if _CALCULUS.search(s) or _STATS.search(s):
        return s
    s = _CLAIM_VERBS.sub(" = ", s)
    match = _OPERATOR.search(s)
    if not match:
        return None
    left, right = _math_tail(s[: match.start()]), _math_head(s[match.end() :])
    if not left or not right:
        return None
    both = left + right
    has_digit = any(ch.isdigit() for ch in both)
    has_operation = any(ch in both for ch in "+-*/^()²³√π!×÷·")
    if not has_operation and not (has_digit and re.search(r"\d", left)):
        return None  # "3 replicas = 6 pods" is prose, not a claim
    if not has_digit and not re.search(r"[A-Za-z]", left + right):
        return None
    return f"{left} {match.group(1)} {right}"


_MATH_CHARS = r"[0-9A-Za-z_+\-*/^().,\[\]²³√π×÷·! ]"


def _math_tail(text: str) -> str:
    m = re.search(_MATH_CHARS + r"+$", text)
    return _only_math(m.group(0) if m else "", keep="tail")


def _math_head(text: str) -> str:
    m = re.match(_MATH_CHARS + r"+", text)
    return _only_math(m.group(0) if m else "", keep="head")


def _only_math(fragment: str, keep: str) -> str:
    """Trim words that are not math (function names or single-letter symbols) off the far end."""
    words = fragment.strip().strip(",.").split(" ")
    ok = [all(_is_math_word(w) for w in re.findall(r"[A-Za-z_]+", word)) for word in words]
    if keep == "tail":
        while words and not ok[0]:
            words, ok = words[1:], ok[1:]
        if not all(ok):
            cut = len(ok) - ok[::-1].index(False)
            words = words[cut:]
    else:
        if not all(ok):
            words = words[: ok.index(False)]
    return " ".join(words).strip().strip(",.")


def _is_math_word(word: str) -> bool:
    return len(word) == 1 or word.lower() in _MATH_WORDS
