"""Math claims in the words people use, turned into the notation `check_math` decides.

People rarely write `d/dx (x^3) = 3*x^2`; they write "is it true that the derivative of x^3 is 3x^2?",
"the F1 for a precision of 0.8 and a recall of 0.5 is 0.615, right?" or "the integral of x^2 from zero
to three is 9". Each claim kind `check_math` knows has a recogniser here built on the grammar of such
sentences (a named quantity with its value, "the <operation> of F is G", "from A to B", "with respect
to x", "for all real x"), not on particular questions. A recogniser emits one canonical claim string
(`integrate(x^2, (x, 0, 3)) = 9`), so the checker sees one notation per kind.

Nothing here parses math: sympy only ever runs inside the sandbox. This module works on text and
guesses nothing: a sentence that reads like a math claim but that no recogniser can turn into one is
reported in `ClaimScan.unextracted`, so the answer can say so instead of checking the wrong claim.
Matrices, functions and metric inputs named in one sentence ("Let A = [[1,2],[3,4]].", "precision is
0.8 and recall 0.5.") are remembered for the sentences after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from crossroads.text import sentences, strip_code

ClaimKind = Literal[
    "metric",
    "statistics",
    "derivative",
    "integral",
    "limit",
    "matrix",
    "percentage",
    "solve",
    "inequality",
    "equality",
    "identity",
]
"""What a claim is about; `check_math` decides the kind again from the claim text itself."""


@dataclass(frozen=True)
class Claim:
    """One checkable claim: `text` goes to `check_math`, `source` is the sentence it was read from."""

    text: str
    kind: ClaimKind
    source: str


@dataclass(frozen=True)
class ClaimScan:
    """The claims found in a text, and the sentences that read like a claim but could not be turned into one."""

    claims: list[Claim]
    unextracted: list[str]


# ---------------------------------------------------------------- vocabulary

_FUNCTIONS = frozenset(
    "sin cos tan cot sec csc asin acos atan arcsin arccos arctan sinh cosh tanh log ln lg exp sqrt cbrt abs "
    "det trace tr rank inv inverse transpose eigenvalues diff integrate limit factorial binomial floor "
    "ceiling gcd lcm mod choose max min sign".split()
)
_CONSTANTS = frozenset("pi e oo inf infinity E I".split())
_GREEK = frozenset("alpha beta gamma delta epsilon theta lamda mu sigma tau phi omega rho".split())
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"half": "1/2", "a half": "1/2", "one half": "1/2", "a quarter": "1/4", "one quarter": "1/4"}
_INFINITY = {
    "infinity": "oo",
    "+infinity": "oo",
    "plus infinity": "oo",
    "positive infinity": "oo",
    "∞": "oo",
    "+∞": "oo",
    "inf": "oo",
    "oo": "oo",
    "minus infinity": "-oo",
    "negative infinity": "-oo",
    "-infinity": "-oo",
    "-∞": "-oo",
    "-inf": "-oo",
    "-oo": "-oo",
}
_MATH_CHARS = re.compile(r"[0-9A-Za-z_+\-*/^().\[\]{}²³⁴√π×÷·−!%'⟦⟧ ]+")
_HOLE = re.compile(r"⟦(\d+)⟧")
"""A placeholder for a matrix literal taken out of the sentence (see `_lift_matrices`)."""
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"

# ---------------------------------------------------------------- sentence clean-up

_LEAD = re.compile(
    r"^(?:"
    r"is\s+it\s+(?:true|correct|right|the\s+case|accurate)(?:\s+to\s+say)?(?:\s+that)?"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:double[- ]check|check|verify|confirm|tell\s+me)"
    r"(?:\s+(?:for\s+me\s+)?(?:that|whether|if))?"
    r"|(?:please\s+)?(?:double[- ]check|check|verify|confirm|prove|show)(?:\s+(?:for\s+me\s+)?(?:that|whether|if))?"
    r"|i\s+(?:just\s+|have\s+|had\s+)?(?:computed|calculated|got|found|worked\s+out|derived|figured(?:\s+out)?|"
    r"think|believe|reckon|claim|wrote(?:\s+down)?|assume|suspect|guess|read|was\s+told|get)(?:\s+that)?"
    r"|i(?:'m|\s+am)\s+(?:pretty\s+|fairly\s+|not\s+)?sure(?:\s+(?:that|whether|if))?"
    r"|(?:my|our|the)\s+(?:notes?|textbook|book|teacher|professor|colleague|friend|boss|lecturer|slides?|"
    r"answer\s+key|calculator|code|notebook|spreadsheet|tutor|reviewer|dashboard|report|script|query|tool)\s+"
    r"(?:says?|claims?|shows?|states?|"
    r"told\s+me|gives?|gave|insists?)(?:\s+that)?"
    r"|(?:someone|somebody|a\s+(?:colleague|coworker|friend|reviewer)|chatgpt|an?\s+llm)\s+(?:told\s+me|says|said|"
    r"claims|claimed|insists)(?:\s+that)?"
    r"|(?:does\s+it\s+(?:hold|follow)|am\s+i\s+right|would\s+you\s+agree|do\s+you\s+agree)\s+that"
    r"|true\s+or\s+false|quick\s+(?:question|check|sanity\s+check)|sanity\s+check|question|claim|math"
    r"|so|and|also|ok(?:ay)?|hey|hi|well|then|now|thus|hence|therefore|but|btw|next"
    r"|(?P<ask>is|does|do|are|did|was|would|should|will)"
    r")(?:[\s,:]+|$)",
    re.I,
)
"""Openers that frame a claim ("is it true that", "I computed", "my notes say") or invert a question ("is ...")."""
_LABEL = re.compile(r"^[A-Za-z][A-Za-z ']{0,30}:\s+")
"""A short label before a colon ("Homework check: ...")."""
_TRAIL = re.compile(
    r"[\s,;:\-—–(]*(?:right|correct|true|no|yes|yeah|isn'?t\s+it|am\s+i\s+right|is\s+(?:that|this|it)\s+"
    r"(?:right|correct|true)|or\s+not|or\s+am\s+i\s+(?:wrong|missing\s+something)|did\s+i\s+get\s+(?:it|that|this)\s+"
    r"right|(?:yes|true)\s+or\s+(?:no|false)|i\s+think|i\s+believe|please|thanks?(?:\s+you)?|doesn'?t\s+it|don'?t\s+they|"
    r"does\s+it\s+not|isn'?t\s+that\s+so)?\s*[?.!]+\s*$"
    r"|\s*\((?:yes\s+or\s+no|true\s+or\s+false|right|correct)\??\)\s*[?.!]*\s*$"
    r"|[\s,;]+(?:right|correct|i\s+think|i\s+believe|please|doesn'?t\s+it|isn'?t\s+it)\s*$",
    re.I,
)
_FRAMING = re.compile(r"\b(?:true|correct|right|check|verify|confirm|computed|calculated|got|equal|equals)\b", re.I)
_WH = re.compile(r"^(?:what|how|why|which|where|when|who|whats|what's|explain|describe|compute|calculate|find)\b", re.I)


def _strip_frame(sentence: str) -> tuple[str, bool, bool]:
    """The sentence without its framing openers and closers, and two flags about how it was put.

    The flags: framed as a claim to check ("is it true that", a closing "right?"), and asked with the verb
    first ("is the integral of ... 1?"), where the relation word has moved to the front.
    """
    s = " ".join(sentence.replace("`", "").split())
    inverted = False
    framed = s.endswith("?") or bool(re.search(r"\b(?:right|correct|true)\W*$", s, re.I))
    label = _LABEL.match(s)
    if label:
        framed = framed or bool(_FRAMING.search(label.group(0)))
        s = s[label.end() :]
    for _ in range(6):
        m = _LEAD.match(s)
        if not m or not m.group(0):
            break
        framed = framed or bool(_FRAMING.search(m.group(0))) or m.group("ask") is not None
        inverted = inverted or m.group("ask") is not None
        s = s[m.end() :]
    for _ in range(3):
        stripped = _TRAIL.sub("", s).strip()
        if stripped == s:
            break
        s = stripped
    return s.strip().rstrip(",;:"), framed, inverted


_SPOKEN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<=[\w)])\s+squared\b", re.I), "**2"),
    (re.compile(r"(?<=[\w)])\s+cubed\b", re.I), "**3"),
    (re.compile(r"\s+to\s+the\s+power\s+of\s+(-?\w+)", re.I), r"**\1"),
    (re.compile(r"\s+to\s+the\s+(\d+)(?:st|nd|rd|th)(?:\s+power)?\b", re.I), r"**\1"),
    (re.compile(r"\b(?:the\s+)?square\s+root\s+of\s+(\d+(?:\.\d+)?|[a-z]\b|\([^()]*\))", re.I), r"sqrt(\1)"),
    (re.compile(r"\b(?:the\s+)?cube\s+root\s+of\s+(\d+(?:\.\d+)?|[a-z]\b|\([^()]*\))", re.I), r"cbrt(\1)"),
    (re.compile(r"(?<=[\w)])\s+(?:times|multiplied\s+by)\s+(?=[\w(])", re.I), " * "),
    (re.compile(r"(?<=[\w)])\s+divided\s+by\s+(?=[\w(])", re.I), " / "),
    (re.compile(r"\b(\d+|[a-z]|pi)\s+over\s+(?=(?:\d|[a-z]\b|pi\b))", re.I), r"\1/"),
    (re.compile(r"(?<=[\w)])\s+plus\s+(?=[\w(])(?!infinity)", re.I), " + "),
    (re.compile(r"(?<=[\w)])\s+minus\s+(?=[\w(])(?!infinity)", re.I), " - "),
]


def _spoken(text: str) -> str:
    """Spoken arithmetic as symbols: "x squared" -> x**2, "3 times 4" -> 3 * 4, "pi over 2" -> pi/2."""
    for pattern, repl in _SPOKEN:
        text = pattern.sub(repl, text)
    return text


# ---------------------------------------------------------------- math fragments


def _is_math_word(word: str) -> bool:
    return (
        len(word) == 1 or word.lower() in _FUNCTIONS | _CONSTANTS | _GREEK or bool(re.fullmatch(r"[A-Za-z]_?\d+", word))
    )


def _is_math_chunk(chunk: str) -> bool:
    """A space-free piece of a formula: math characters only, every name a symbol, function or constant."""
    if not chunk or not _MATH_CHARS.fullmatch(chunk):
        return False
    return all(_is_math_word(w) for w in re.findall(r"[A-Za-z]+(?:_?\d+)?", chunk))


def _depths(text: str) -> list[int]:
    depth, out = 0, []
    for ch in text:
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        out.append(depth)
    return out


def _balanced(text: str) -> bool:
    d = _depths(text)
    return (not d or d[-1] == 0) and min(d, default=0) >= 0


def _top_level_cut(text: str, keep: str) -> str:
    """Cut at the first (keep='head') or last (keep='tail') comma outside brackets."""
    d = _depths(text)
    commas = [i for i, ch in enumerate(text) if ch == "," and d[i] == 0]
    if not commas:
        return text
    return text[: commas[0]] if keep == "head" else text[commas[-1] + 1 :]


def _tidy(expr: str) -> str | None:
    expr = expr.strip().strip(",;:").strip()
    expr = re.sub(r"^(?:the\s+)?(?:function|expression|value|number|quantity)\s+", "", expr, flags=re.I)
    if not expr or not _balanced(expr) or re.search(r"[+\-*/^(]$", expr) or not re.search(r"[\w⟦]", expr):
        return None
    return expr


def _head(text: str) -> str | None:
    """The formula at the start of `text`, up to the first word that is not math."""
    words = text.split(" ")
    kept: list[str] = []
    for word in words:
        bare = word.rstrip(",;:?!")
        if not _is_math_chunk(bare):
            break
        kept.append(bare)
        if bare != word:
            break
    head = _top_level_cut(" ".join(kept), "head")
    while head and not _balanced(head) and " " in head:
        head = head.rsplit(" ", 1)[0]
    return _tidy(head.rstrip("."))


def _tail(text: str) -> str | None:
    """The formula at the end of `text`, back to the last word that is not math."""
    words = text.split(" ")
    kept: list[str] = []
    for word in reversed(words):
        if not _is_math_chunk(word):
            break
        kept.insert(0, word)
    tail = _top_level_cut(" ".join(kept), "tail")
    while tail and not _balanced(tail) and " " in tail:
        tail = tail.split(" ", 1)[1]
    return _tidy(tail)


def _whole(text: str) -> str | None:
    """`text` when all of it is one formula (number words and infinity spelled out are allowed)."""
    t = text.strip().strip(",;:").strip()
    low = t.lower()
    if low in _INFINITY:
        return _INFINITY[low]
    if low in _NUMBER_WORDS:
        return _NUMBER_WORDS[low]
    m = re.fullmatch(r"(minus|negative)\s+(\w+)", low)
    if m and m.group(2) in _NUMBER_WORDS:
        return "-" + _NUMBER_WORDS[m.group(2)]
    t = re.sub(r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten)\b", lambda w: _NUMBER_WORDS[w.group(1)], t)
    t = t.replace("∞", "oo")
    if re.search(r"(?<![A-Za-z])[fgh]\s*\(", t):
        return None  # f(n) names a function this text never defined: nothing to compute with
    head = _head(t)
    return head if head is not None and head.replace(" ", "") == t.rstrip(".").replace(" ", "") else None


def _variables(expr: str) -> list[str]:
    """Single-letter names in a formula that can be variables (e and i are constants)."""
    names = re.findall(r"(?<![A-Za-z])([a-zA-Z])(?![A-Za-z(])", _HOLE.sub(" ", expr))
    out: list[str] = []
    for n in names:
        if n not in ("e", "i", "E", "I") and n not in out:
            out.append(n)
    return out


def _variable(expr: str, given: str | None) -> str | None:
    """The variable of a calculus claim: the one named, the only one, or x by convention."""
    if given:
        return given
    names = _variables(expr)
    if len(names) == 1:
        return names[0]
    return "x" if "x" in names else None


# ---------------------------------------------------------------- relations

_SYMBOLIC = re.compile(r"(?<![=<>!~+\-*/%:])(==|=|≈|~=|!=|≠|<=|>=|≤|≥|<|>)(?![=>])")
_VERBAL: list[tuple[str, str]] = [
    (r"(?:is\s+)?not\s+equal\s+to|is\s+different\s+from|does\s+not\s+equal|doesn'?t\s+equal", "!="),
    (r"(?:is\s+)?greater\s+than\s+or\s+equal\s+to|(?:is\s+)?at\s+least|(?:is\s+)?no\s+less\s+than", ">="),
    (r"(?:is\s+)?less\s+than\s+or\s+equal\s+to|(?:is\s+)?at\s+most|(?:is\s+)?no\s+more\s+than", "<="),
    (r"(?:is\s+)?(?:greater|bigger|larger|more)\s+than|exceeds", ">"),
    (r"(?:is\s+)?(?:less|smaller|lower)\s+than", "<"),
    (r"(?:is\s+|are\s+)?(?:approximately|roughly|approx\.?|about|around|close\s+to)(?:\s+equal\s+to)?", "≈"),
    (
        r"(?:is\s+|are\s+)?(?:equal\s+to|the\s+same\s+as|equivalent\s+to|identical\s+to)|equals?|"
        r"gives|yields|comes\s+out\s+(?:to|as|at)|evaluates\s+to|simplifies\s+to|works\s+out\s+(?:to|as)|"
        r"(?:should|would|must|will|does|do)\s+(?:be|equal)|becomes|(?:and\s+)?(?:i\s+)?(?:got|get)|is|are|was|were",
        "=",
    ),
]
_VERBAL_RE = re.compile(
    "|".join(rf"(?P<v{i}>(?<!\S)(?:{p})(?!\S))" for i, (p, _) in enumerate(_VERBAL)),
    re.I,
)


def _relation(text: str, verbal: bool = True, symbolic: bool = True) -> tuple[str, str, str] | None:
    """Split at the first relation outside brackets: a symbol (=, <, >=, ...) wins over a word (is, equals)."""
    d = _depths(text)
    for m in _SYMBOLIC.finditer(text) if symbolic else ():
        if (d[m.start() - 1] if m.start() else 0) == 0:
            op = {"==": "=", "≠": "!=", "≤": "<=", "≥": ">=", "~=": "≈"}.get(m.group(1), m.group(1))
            return text[: m.start()].strip(), op, text[m.end() :].strip()
    if not verbal:
        return None
    for m in _VERBAL_RE.finditer(text):
        if (d[m.start() - 1] if m.start() else 0) == 0 and m.start() > 0:
            op = next(_VERBAL[i][1] for i in range(len(_VERBAL)) if m.group(f"v{i}"))
            return text[: m.start()].strip(), op, text[m.end() :].strip()
    return None


def _relations(text: str) -> list[tuple[str, str, str]]:
    """The split at a symbol, then the split at a word: in "the area under y = x^2 ... is 8/3" the word is the claim."""
    out = [r for r in (_relation(text), _relation(text, symbolic=False)) if r is not None]
    return out[:1] if len(out) == 2 and out[0] == out[1] else out


def _first(text: str, read: Callable[[str, str, str], str | None]) -> str | None:
    """The first reading of `text` that `read(left, op, right)` accepts, over the candidate relations."""
    for left, op, right in _relations(text):
        claim = read(left, op, right)
        if claim:
            return claim
    return None


# ---------------------------------------------------------------- domains ("for all real x")

_DOMAIN = re.compile(
    r"[\s,]*(?:\b(?:holds|is\s+true|is\s+valid|works)\s+)?\b(?:for|where|when|assuming|if|whenever)\s+(?:all\s+|every\s+|any\s+|each\s+)?"
    r"(?P<dom>positive|non-?negative|negative|real|integer|complex)?\s*"
    r"(?:numbers?|reals?|values?(?:\s+of)?|integers?)?\s*"
    r"(?P<vars>[a-z](?:\s*(?:,|and)\s*[a-z])*)\s*"
    r"(?:(?P<cmp>>=|≥|>|<)\s*0|(?:is|are)\s+(?P<dom2>positive|real|negative|non-?negative)(?:\s+numbers?)?|"
    r"(?:in|∈)\s+(?P<set>R\+|ℝ\+|R|ℝ|the\s+reals|real\s+numbers|positive\s+reals))?\s*$",
    re.I,
)
_DOMAIN_LEAD = re.compile(
    r"^(?:for\s+(?:all|every|any|each)|if|when|assuming)\s+(?P<cond>[^,]{1,40}?),\s*(?:then\s+)?(?P<rest>.+)$", re.I
)


def _domain(text: str) -> tuple[str, str]:
    """The claim without its "for all ..." condition, and the condition in the checker's words (or "")."""
    lead = _DOMAIN_LEAD.match(text)
    if lead and _DOMAIN.fullmatch(" for all " + lead.group("cond")):
        text = f"{lead.group('rest')} for all {lead.group('cond')}"
    m = _DOMAIN.search(text)
    if not m:
        return text, ""
    names = ", ".join(re.findall(r"\b[a-z]\b", m.group("vars")))
    cmp_dom = {">": "positive", "≥": "nonnegative", ">=": "nonnegative", "<": "negative"}.get(m.group("cmp") or "")
    set_dom = None
    if m.group("set"):
        set_dom = "positive" if "+" in m.group("set") or "positive" in m.group("set") else "real"
    dom = (m.group("dom") or m.group("dom2") or cmp_dom or set_dom or "real").lower().replace("-", "")
    if dom == "complex":
        return text[: m.start()].strip(), ""
    return text[: m.start()].strip(), f" for all {dom} {names}"


# ---------------------------------------------------------------- context across sentences


@dataclass
class _Context:
    """What earlier sentences named: matrices, functions and metric inputs."""

    matrices: dict[str, str] = field(default_factory=dict)
    last_matrix: str | None = None
    functions: dict[str, tuple[str, str]] = field(default_factory=dict)
    last_function: tuple[str, str] | None = None
    quantities: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- matrices

_MATRIX_PROPS = (
    r"invertible|non-?singular|singular|symmetric|positive\s+definite|positive\s+semi-?definite|negative\s+definite|"
    r"orthogonal|diagonal|diagonali[sz]able|upper\s+triangular|lower\s+triangular|square"
)


def _matrix_literal(text: str, start: int) -> tuple[str, int] | None:
    """A matrix written at `start` as [[1,2],[3,4]] or [1 2; 3 4]: (canonical text, end)."""
    depths, j = 0, start
    while j < len(text):
        depths += {"[": 1, "]": -1}.get(text[j], 0)
        j += 1
        if depths == 0:
            break
    if depths:
        return None
    body = text[start + 1 : j - 1].strip()
    if body.startswith("["):
        rows = re.findall(r"\[([^\[\]]*)\]", body)
        leftover = re.sub(r"\[[^\[\]]*\]", "", body)
        if leftover.strip(" ,") or not rows:
            return None
        cells = [[c.strip() for c in row.split(",")] for row in rows]
    elif ";" in body:
        cells = [[c for c in re.split(r"[\s,]+", row.strip()) if c] for row in body.split(";")]
    else:
        return None
    if not cells or any(
        len(r) != len(cells[0]) or not all(_is_math_chunk(c.replace(" ", "")) for c in r) for r in cells
    ):
        return None
    return "[" + ", ".join("[" + ", ".join(r) + "]" for r in cells) + "]", j


def _lift_matrices(text: str, ctx: _Context) -> tuple[str, list[str]]:
    """Matrix literals and named matrices replaced by placeholders ⟦k⟧; definitions are remembered."""
    mats: list[str] = []
    out, i = [], 0
    while i < len(text):
        lit = _matrix_literal(text, i) if text[i] == "[" else None
        if lit:
            mats.append(lit[0])
            out.append(f"⟦{len(mats) - 1}⟧")
            i = lit[1]
        else:
            out.append(text[i])
            i += 1
    s = "".join(out)
    define = re.compile(
        r"(?:^|[,;]\s*|\b(?:let|for|given|take|with|if|where|and|matrix)\s+)(?:the\s+)?(?:matrix\s+)?([A-Z])\s*"
        r"(?:=|:=|be|is(?:\s+the\s+matrix)?)\s*⟦(\d+)⟧\s*(?:,\s*|\s+(?:and|then)\s+)?",
        re.I,
    )
    for m in list(define.finditer(s)):
        ctx.matrices[m.group(1)] = mats[int(m.group(2))]
        ctx.last_matrix = mats[int(m.group(2))]
    s = define.sub(" ", s).strip()
    for name, lit in ctx.matrices.items():
        if re.search(rf"\b{name}\b", s):
            mats.append(lit)
            s = re.sub(rf"(?<![A-Za-z]){name}(?![A-Za-z(])", f"⟦{len(mats) - 1}⟧", s)
    if mats:
        ctx.last_matrix = mats[-1]
    return s, mats


def _unlift(text: str, mats: list[str]) -> str:
    return _HOLE.sub(lambda m: mats[int(m.group(1))], text)


_M = r"(?:the\s+)?(?:matrix\s+)?(?P<m>⟦\d+⟧)"
_OPS = {
    "det": rf"(?:the\s+)?determinant\s+of\s+{_M}|det\s*\(?\s*(?P<m2>⟦\d+⟧)\s*\)?|\|\s*(?P<m3>⟦\d+⟧)\s*\|",
    "inverse": rf"(?:the\s+)?inverse\s+of\s+{_M}|(?P<m2>⟦\d+⟧)\s*(?:\^|\*\*)\s*\(?-1\)?|(?P<m3>⟦\d+⟧)\s+inverse",
    "eigenvalues": rf"(?:the\s+)?eigen-?values\s+of\s+{_M}",
    "rank": rf"(?:the\s+)?rank\s+of\s+{_M}|rank\s*\(\s*(?P<m2>⟦\d+⟧)\s*\)",
    "trace": rf"(?:the\s+)?trace\s+of\s+{_M}|(?:tr|trace)\s*\(\s*(?P<m2>⟦\d+⟧)\s*\)",
    "transpose": rf"(?:the\s+)?transpose\s+of\s+{_M}|(?P<m2>⟦\d+⟧)\s*(?:\^|\*\*)\s*T\b",
}
_HAS = {
    "det": r"determinant",
    "eigenvalues": r"eigen-?values",
    "rank": r"rank",
    "trace": r"trace",
}


def _value_list(text: str) -> list[str] | None:
    """`1 and 3` / `1, 3` / `{1, 3}` / `λ = 1, λ = 3` / `±2` as a list of formulas."""
    t = re.sub(r"^\s*[\[{(]|[\]})]\s*$", "", text.strip().rstrip(".?!"))
    t = re.sub(r"(?:λ|lambda|lamda|[a-z])\s*=\s*", "", t)
    items = [i.strip() for i in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s+or\s+", t) if i.strip()]
    out: list[str] = []
    for item in items:
        pm = re.fullmatch(r"(?:±|\+-|\+/-)\s*(.+)", item)
        values = [pm.group(1), f"-{pm.group(1)}"] if pm else [item]
        for v in values:
            w = _whole(v)
            if w is None:
                return None
            out.append(w)
    return out or None


def _matrix_claim(s: str, ctx: _Context) -> str | None:
    """Determinant, inverse, eigenvalues, rank, trace, transpose and properties of a matrix."""
    lifted, mats = _lift_matrices(s, ctx)
    if not _HOLE.search(lifted):
        if not ctx.last_matrix or not re.search(r"\b(?:determinant|eigen-?values|inverse|rank|trace)\b", lifted, re.I):
            return None
        mats.append(ctx.last_matrix)
        lifted = re.sub(
            r"\b(determinant|eigen-?values|inverse|rank|trace)\b(?!\s+of)",
            rf"\1 of ⟦{len(mats) - 1}⟧",
            lifted,
            count=1,
            flags=re.I,
        )
    prop = re.search(rf"(?P<m>⟦\d+⟧)\s+(?:is\s+)?(?P<not>not\s+)?(?:an?\s+)?(?P<p>{_MATRIX_PROPS})\b", lifted, re.I)
    if prop:
        p = re.sub(r"\s+", " ", prop.group("p").lower()).replace("-", "").replace("diagonalisable", "diagonalizable")
        return _unlift(f"{prop.group('m')} is {prop.group('not') or ''}{p}", mats)
    for name, pattern in _HAS.items():
        has = re.search(
            rf"(?P<m>⟦\d+⟧)\s+(?:has|with|is\s+of|is)\s+(?:an?\s+|the\s+)?{pattern}\s+(?:of\s+)?(?P<v>.+)$", lifted
        )
        if has:
            lifted = _PHRASE[name].format(m=has.group("m"), v=has.group("v"))
            break
    return _matrix_operation(lifted, mats)


_MATRIX_REL = r"(?:(?:is|are)\s+)?(?:(?:equal\s+to|equals?|==?|gives|should\s+be)\s+)?"
_PHRASE = {
    "det": "the determinant of {m} is {v}",
    "eigenvalues": "the eigenvalues of {m} are {v}",
    "rank": "the rank of {m} is {v}",
    "trace": "the trace of {m} is {v}",
}


def _matrix_operation(lifted: str, mats: list[str]) -> str | None:
    for name, pattern in _OPS.items():
        m = re.search(rf"(?:{pattern})\s*{_MATRIX_REL}(?P<v>.+)$", lifted, re.I)
        if not m:
            continue
        hole = m.group("m") or m.group("m2") or (m.groupdict().get("m3"))
        value = m.group("v").strip()
        if name == "eigenvalues":
            values = _value_list(value)
            return _unlift(f"eigenvalues({hole}) = [{', '.join(values)}]", mats) if values else None
        rhs = _head(value)
        if rhs is None or (name in ("inverse", "transpose") and not _HOLE.fullmatch(rhs)):
            return None
        func = {"det": "det", "inverse": "inverse", "rank": "rank", "trace": "trace", "transpose": "transpose"}[name]
        return _unlift(f"{func}({hole}) = {rhs}", mats)
    rel = _relation(lifted)
    if rel and (_HOLE.search(rel[0]) or _HOLE.search(rel[2])):
        left = _tail(re.sub(r"\b(?:the\s+)?product\s+of\s+(⟦\d+⟧)\s+and\s+(⟦\d+⟧)", r"\1*\2", rel[0]))
        right = _head(rel[2])
        if left and right and _HOLE.search(left + right) and (left + right).count("⟦") >= 2:
            return _unlift(f"{left} {rel[1]} {right}", mats)
    return None


# ---------------------------------------------------------------- metrics from named quantities

_QUANTITY_NAMES = {  # counts first: in "the recall of 30 TP", 30 is a count, not the recall
    "tp": r"tp|tps|true\s+positives?",
    "fp": r"fp|fps|false\s+positives?|false\s+alarms?",
    "tn": r"tn|tns|true\s+negatives?",
    "fn": r"fn|fns|false\s+negatives?|misses",
    "precision": r"precision|ppv|positive\s+predictive\s+value",
    "recall": r"recall|sensitivity|tpr|true\s+positive\s+rate|hit\s+rate",
    "p": r"p",
    "r": r"r",
}
_TARGET_NAMES = (
    r"f1(?:[- ]score|[- ]measure)?|f-1|f[- ]score|f[- ]measure|f-?beta(?:[- ]score)?"
    r"|f(?P<b>\d+(?:\.\d+)?)(?:[- ]score)?|accuracy|precision|recall"
)
"""What a metric claim is about; `F2` names an F-beta with beta = 2."""
_CONNECT = (
    r"\s*(?:=|:|\bof\b|\bis\b|\bwas\b|\bat\b|\bequals?\b|\bequal\s+to\b|\bcomes\s+out\s+(?:to|as|at)\b|"
    r"\bworks\s+out\s+to\b|\bshould\s+be\b|\bwould\s+be\b|\bgives\b|≈|~)?\s*(?:about\s+|around\s+|approximately\s+|roughly\s+)?"
)


_STRICT_CONNECT = r"\s*[=:]\s*"


def _metric_values(text: str) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Named inputs with their values ("a recall of 0.5", "40 true positives", "TP=40") and their spans."""
    found: dict[str, str] = {}
    spans: dict[str, tuple[int, int]] = {}
    for key, names in _QUANTITY_NAMES.items():
        strict = key in ("p", "r")
        connect = _STRICT_CONNECT if strict else _CONNECT
        after = rf"(?<![\w-])(?:{names})\b{connect}(?P<v>{_NUM}%?)(?![\w.])"
        before = rf"(?<![\w.])(?P<v>{_NUM})\s+(?:{names})\b"
        order = (after,) if strict else (before, after) if key in ("tp", "fp", "tn", "fn") else (after, before)
        for pattern in order:
            m = re.search(pattern, text, re.I)
            name = {"p": "precision", "r": "recall"}.get(key, key)
            if m and name not in found and not any(m.start() < b and a < m.end() for a, b in spans.values()):
                found[name] = m.group("v")
                spans[name] = (m.start(), m.end())
                break
    return found, spans


def _metric_claim(s: str, ctx: _Context) -> str | None:
    """F1/F-beta, accuracy, precision or recall claimed for named inputs, in the checker's notation.

    Inputs named in earlier sentences count too ("Precision is 0.8 and recall 0.5. Is the F1 0.615?").
    """
    targets = list(re.finditer(rf"(?<![\w-])(?:{_TARGET_NAMES})(?![\w-])", s, re.I))
    values, spans = _metric_values(s)
    known = {**ctx.quantities, **values}
    target = _metric_target(targets, known, list(spans.values()))
    own = target.group(0).lower() if target else ""
    others = [span for key, span in spans.items() if key != own]  # the target's own "recall is 0.75" is the claim
    claimed = _claimed_metric_value(s, target, others) if target else None
    own = own if claimed else ""
    for key, value in values.items():
        if key != own:
            ctx.quantities[key] = value
    if target is None or claimed is None:
        return None
    return _metric_text(target, {k: v for k, v in known.items() if k != own}, claimed)


def _metric_target(
    targets: list[re.Match[str]], known: dict[str, str], spans: list[tuple[int, int]]
) -> re.Match[str] | None:
    """The metric being claimed: an F-score, else accuracy, else precision or recall computed from counts."""
    f_target = next((t for t in targets if t.group(0).lower().startswith("f")), None)
    if f_target is not None:
        return f_target
    accuracy = next((t for t in targets if t.group(0).lower() == "accuracy"), None)
    if accuracy is not None:
        return accuracy
    if targets and {"tp", "fp", "tn", "fn"} & known.keys():
        return next((t for t in targets if not any(a <= t.start() < b for a, b in spans)), targets[0])
    return None


def _claimed_metric_value(s: str, target: re.Match[str], spans: list[tuple[int, int]]) -> str | None:
    after = re.match(
        rf"{_CONNECT}(?:(?:score|value)\s+(?:of\s+|is\s+)?)?(?P<v>{_NUM}%?)(?![\w.])", s[target.end() :], re.I
    )
    if after and any(a <= target.end() + after.start("v") < b for a, b in spans):
        after = None  # "the recall of 30 TP": that number is a named count
    if after and after.group(0).strip() != after.group("v"):
        return after.group("v")
    before = re.search(rf"(?P<v>{_NUM}%?)\s+(?:an?\s+)?$", s[: target.start()])
    if before and not any(a <= before.start() < b for a, b in spans):
        return before.group("v")
    if after:
        return after.group("v")
    rest = [m for m in re.finditer(rf"(?<![\w.]){_NUM}%?(?![\w.])", s) if not any(a <= m.start() < b for a, b in spans)]
    tail = [m for m in rest if m.start() >= target.end()]
    return tail[-1].group(0) if len(tail) == 1 else None


def _metric_text(target: re.Match[str], v: dict[str, str], claimed: str) -> str | None:
    name = target.group(0).lower()
    beta = target.groupdict().get("b")
    if name.startswith("f") and beta not in (None, "1"):
        label, pr = "F-beta", f"beta={beta}, "
    else:
        label, pr = ("F1" if name.startswith("f") else name), ""
    if label in ("F1", "F-beta"):
        if {"precision", "recall"} <= v.keys():
            return f"{label} with {pr}precision {v['precision']} and recall {v['recall']} = {claimed}"
        need: tuple[str, ...] = ("tp", "fp", "fn")
    else:
        need = {"accuracy": ("tp", "fp", "tn", "fn"), "precision": ("tp", "fp"), "recall": ("tp", "fn")}[label]
    if not set(need) <= v.keys():
        return None
    counts = ", ".join(f"{k.upper()}={v[k]}" for k in need)
    return f"{label} with {pr}{counts} = {claimed}"


_CORRECT = re.compile(
    rf"(?P<k>\d+)\s+(?:out\s+of|of)\s+(?P<n>\d+)(?:\s+\w+){{0,3}}?\s+(?:are|were|is|was|got|get|came\s+out)?\s*"
    rf"(?:correct|right|correctly\s+\w+).*?\baccuracy\b{_CONNECT}(?P<v>{_NUM}%?)"
    rf"|\baccuracy\b{_CONNECT}(?P<v2>{_NUM}%?).*?(?P<k2>\d+)\s+(?:out\s+of|of)\s+(?P<n2>\d+)(?:\s+\w+){{0,3}}?\s+"
    rf"(?:are|were|is|was)?\s*(?:correct|right)",
    re.I,
)


def _accuracy_ratio(s: str) -> str | None:
    """Accuracy from a count of correct answers: "45 of 50 are correct, so accuracy is 90%" -> 45/50 = 90%."""
    m = _CORRECT.search(s)
    if not m:
        return None
    k, n, v = m.group("k") or m.group("k2"), m.group("n") or m.group("n2"), m.group("v") or m.group("v2")
    return f"{k}/{n} = {v}"


# ---------------------------------------------------------------- mean, median, variance, standard deviation

_SUMMARY = (
    r"(?P<pre>sample\s+|population\s+)?(?P<stat>mean|average|median|variance|standard\s+deviation|std(?:\s+dev)?|sd)"
)
_DATA = rf"(?P<data>[\[{{(]?\s*{_NUM}(?:\s*(?:,|and|,\s*and)\s*{_NUM})+\s*[\]}})]?)"


def _summary_claim(s: str) -> str | None:
    m = re.search(
        rf"\b(?:the\s+)?{_SUMMARY}\s+of\s+(?:the\s+(?:numbers|values|data)\s+)?{_DATA}\s*(?P<rest>.*)$", s, re.I
    )
    if not m:
        m = re.search(
            rf"{_DATA}\s+(?:has|have)\s+(?:an?\s+|the\s+)?{_SUMMARY}\s+(?:of\s+)?(?P<rest>.*)$", s, re.I
        ) or re.search(rf"{_DATA}\s+(?:average|averages)\s+(?P<rest>(?:to|out\s+at|out\s+to)\s+.*)$", s, re.I)
        if not m:
            return None
    rest = m.group("rest").strip()
    rel = re.match(
        r"(?:(?:is|are|=|equals?|(?:is\s+)?equal\s+to|comes\s+out\s+(?:to|as)|gives|to|out\s+(?:at|to))\s+)?(?:about\s+|approximately\s+|around\s+)?(?P<v>"
        + _NUM
        + r")(?![\w.])",
        rest,
        re.I,
    )
    if not rel:
        return None
    stat = m.groupdict().get("stat") or "average"
    stat = re.sub(r"\s+", " ", stat.lower())
    stat = {
        "average": "mean",
        "sd": "standard deviation",
        "std dev": "standard deviation",
        "std": "standard deviation",
    }.get(stat, stat)
    pre = (m.groupdict().get("pre") or "").lower().strip()
    data = ", ".join(re.findall(_NUM, m.group("data")))
    return f"{(pre + ' ') if pre else ''}{stat} of [{data}] = {rel.group('v')}"


# ---------------------------------------------------------------- calculus

_WRT = r"(?:\s*,?\s+(?:with\s+respect\s+to|wrt|w\.r\.t\.?|in|by)\s+(?P<v>[a-z])\b)"
_WRT2 = _WRT.replace("P<v>", "P<v2>")
_ORDER = {"first": 1, "second": 2, "third": 3, "2nd": 2, "3rd": 3, "1st": 1}


def _bind_functions(s: str, ctx: _Context) -> str:
    """A function defined as `f(x) = x^3` is remembered, so f'(x), f'' and "the derivative of f" can be read."""
    define = re.compile(
        r"(?:\b(?:let|for|given|if|where|take|with)\s+)?(?:the\s+function\s+)?\b([a-zA-Z])\(([a-z])\)\s*(?:=|:=|be)\s*"
    )
    m = define.search(s)
    if m:
        rest = s[m.end() :]
        cut = re.search(r",\s*|\s+(?:then|and|is|has|gives|equals)\b|\.\s|$", rest)
        expr = _head(rest[: cut.start()] if cut else rest)
        if expr:
            ctx.functions[m.group(1)] = (m.group(2), expr)
            ctx.last_function = (m.group(2), expr)
            after = rest[cut.end() :] if cut else ""
            if cut and re.match(r"\s+(?:is|has|gives|equals)\b", cut.group(0)):
                after = cut.group(0) + after
            s = (s[: m.start()] + f"{m.group(1)}({m.group(2)})" + after) if after.strip() else s
    for name, (var, expr) in ctx.functions.items():
        s = re.sub(
            rf"\b{name}('{{1,3}})(?:\({var}\))?",
            lambda p, var=var, expr=expr: (
                f"the {['', 'first', 'second', 'third'][len(p.group(1))]} derivative of {expr} with respect to {var}"
            ),
            s,
        )
        s = re.sub(
            rf"\b(derivative|integral|antiderivative|limit)\s+of\s+{name}(?:\({var}\))?(?![\w(])", rf"\1 of {expr}", s
        )
    return s


def _derivative_claim(s: str, ctx: _Context) -> str | None:
    s = _bind_functions(s, ctx)
    return _first(s, lambda left, _op, right: _derivative_from(left, right, ctx))


def _derivative_from(left: str, right: str, ctx: _Context) -> str | None:
    m = re.search(
        rf"(?:\bthe\s+)?(?:(?P<ord>first|second|third|1st|2nd|3rd)\s+)?(?:partial\s+)?(?<![\w-])derivative"
        rf"(?:\s+of\s+(?P<f>.+?))?{_WRT}?$",
        left,
        re.I,
    ) or re.search(rf"\bdifferentiating\s+(?P<f>.+?){_WRT}?(?:\s+(?:once|twice))?$", left, re.I)
    n = 1
    if m:
        n = _ORDER.get((m.groupdict().get("ord") or "first").lower(), 1)
        f_text, var = m.group("f"), m.group("v")
        if f_text is None and ctx.last_function:
            var, f_text = var or ctx.last_function[0], ctx.last_function[1]
        if f_text is None:
            return None
    else:
        d = re.search(r"\bd(?:\^|\*\*)?(?P<n>\d)?\s*/\s*d(?P<v>[a-z])(?:\^|\*\*)?\d?\s*(?:of\s+)?(?P<f>.+)$", left)
        if not d:
            return None
        n, var, f_text = int(d.group("n") or 1), d.group("v"), d.group("f")
    f = _whole(f_text)
    g = _head(right)
    if f is None or g is None or re.match(rf"\s*{re.escape(g)}\s+(?:at|when|for)\b", right):
        return None
    var = _variable(f, var)
    if var is None:
        return None
    op = f"d/d{var}" if n == 1 else f"d^{n}/d{var}^{n}"
    return f"{op} ({f}) = {g}"


def _integrand(text: str) -> tuple[str | None, str | None]:
    """The integrand and the variable its trailing `dx` names: `x^2 dx` -> (`x^2`, `x`)."""
    m = re.fullmatch(r"(?P<f>.+?)\s*\bd(?P<v>[a-z])", text.strip())
    if m:
        return _whole(m.group("f")), m.group("v")
    return _whole(text), None


_BOUNDS = (
    r"(?:\s+(?:from|between)\s+(?:[a-z]\s*=\s*)?(?P<a>.+?)\s+(?:to|and|until)\s+(?:[a-z]\s*=\s*)?(?P<b>.+?)"
    r"|\s+(?:over|on)\s+(?:the\s+interval\s+)?\[(?P<a2>[^,\]]+),\s*(?P<b2>[^\]]+)\])"
)
"""Bounds of a definite integral in words: "from 0 to 1", "between x = 0 and x = 2", "over [0, 1]"."""


def _integral_claim(s: str, ctx: _Context) -> str | None:
    s = _bind_functions(s, ctx)
    s = re.sub(r"(?:∫|\bint)\s*_\{?([^}\s^]+)\}?\s*\^\{?([^}\s]+)\}?\s*", r"the integral from \1 to \2 of ", s)
    s = re.sub(r"∫\s*", "the integral of ", s)
    return _first(s, _integral_from)


def _integral_from(left: str, op: str, right: str) -> str | None:
    patterns = [
        rf"\b(?:the\s+)?(?:definite\s+)?integral\s+from\s+(?P<a>.+?)\s+to\s+(?P<b>.+?)\s+of\s+(?P<f>.+?){_WRT}?$",
        rf"\b(?:the\s+)?(?:definite\s+|indefinite\s+)?(?:integral|antiderivative|anti-derivative|primitive)\s+of\s+(?P<f>.+?){_WRT}?(?:{_BOUNDS})?{_WRT2}?$",
        rf"\bintegrating\s+(?P<f>.+?){_WRT}?(?:{_BOUNDS})?$",
        rf"\b(?:the\s+)?area\s+under\s+(?:the\s+(?:curve|graph|function)\s+(?:of\s+)?)?(?:y\s*=\s*|f\(x\)\s*=\s*)?(?P<f>.+?){_BOUNDS}$",
    ]
    m = next((mm for p in patterns if (mm := re.search(p, left, re.I))), None)
    if m is None:
        return None
    g = m.groupdict()
    f, dvar = _integrand(g["f"])
    value = _head(right) if _whole(right) is None else _whole(right)
    if f is None or value is None:
        return None
    var = _variable(f, g.get("v") or g.get("v2") or dvar)
    if var is None:
        return None
    lo, hi = g.get("a") or g.get("a2"), g.get("b") or g.get("b2")
    if lo is None:
        return f"integrate({f}, {var}) = {value}"
    a, b = _whole(lo), _whole(hi or "")
    if a is None or b is None:
        return None
    return f"integrate({f}, ({var}, {a}, {b})) {op if op in ('=', '≈') else '='} {value}"


_APPROACH = r"(?:approaches|goes\s+to|tends\s+to|->|→|heads\s+to|to)"
_SIDE = r"(?:\s+from\s+(?:the\s+)?(?P<side>right|left|above|below|positive\s+side|negative\s+side))?"


def _limit_claim(s: str) -> str | None:
    lead = re.search(
        rf"\bas\s+(?P<x>[a-z])\s+{_APPROACH}\s+(?P<a>.+?){_SIDE},\s*(?P<f>.+?)\s+{_APPROACH}\s+(?P<l>.+)$", s, re.I
    )
    if lead:
        s = (
            f"the limit of {lead.group('f')} as {lead.group('x')} approaches {lead.group('a')}"
            + (f" from the {lead.group('side')}" if lead.group("side") else "")
            + f" is {lead.group('l')}"
        )
    return _first(s, _limit_from)


def _limit_from(left: str, op: str, right: str) -> str | None:
    m = re.search(
        rf"\b(?:the\s+)?lim(?:it)?\s+of\s+(?P<f>.+?)\s+(?:as|when)\s+(?P<x>[a-z])\s+{_APPROACH}\s+(?P<a>.+?){_SIDE}$",
        left,
        re.I,
    ) or re.search(
        rf"\blim(?:it)?\s*(?:_\s*\{{?|\(|\s+)\s*(?P<x>[a-z])\s*{_APPROACH}\s*(?P<a>[^\s}})]+?)\s*(?P<dir>[+-]|\^[+-])?\s*[}})]?\s*(?:of\s+)?(?P<f>.+)$",
        left,
        re.I,
    )
    if not m:
        return None
    g = m.groupdict()
    f, point, value = _whole(g["f"]), _whole(g["a"]), _whole(right) or _head(right)
    if f is None or point is None or value is None:
        return None
    side = (g.get("side") or "").lower()
    direction = g.get("dir") or ("+" if side in ("right", "above", "positive side") else "-" if side else "")
    direction = direction.lstrip("^")
    extra = f", '{direction}'" if direction else ""
    return f"limit({f}, {g['x']}, {point}{extra}) {op if op in ('=', '≈') else '='} {value}"


# ---------------------------------------------------------------- solutions of equations


def _solve_claim(s: str) -> str | None:
    if not re.search(r"\b(?:solutions?|roots?|zeros?|zeroes|solves|satisfies|solving)\b", s, re.I):
        return None
    point = re.search(
        rf"(?P<x>[a-z])\s*=\s*(?P<v>{_NUM}|[\w/()+\-*^]+)\s+(?:solves|satisfies|(?:is\s+)?an?\s+(?:solution|root|zero)\s+(?:of|to))\s+(?P<eq>.+)$",
        s,
        re.I,
    )
    if point:
        eq, v = _equation(point.group("eq")), _whole(point.group("v"))
        return f"{point.group('x')} = {v} is a solution of {eq}" if eq and v else None
    m = (
        re.search(
            r"\b(?:the\s+)?(?:real\s+)?(?:solutions?|roots?|zeros?|zeroes)\s+(?:of|to)\s+(?P<eq>.+?)\s+(?:are|is|were)\s+(?P<vals>.+)$",
            s,
            re.I,
        )
        or re.search(
            r"(?P<eq>.+?)\s+(?:has|have)\s+(?:the\s+)?(?:real\s+)?(?:solutions?|roots?|zeros?)\s+(?:of\s+)?(?P<vals>.+)$",
            s,
            re.I,
        )
        or re.search(
            r"^(?P<vals>.+?)\s+(?:are|is)\s+(?:the\s+)?(?:only\s+)?(?:real\s+)?(?:solutions?|roots?|zeros?)\s+(?:of|to)\s+(?P<eq>.+)$",
            s,
            re.I,
        )
        or re.search(r"\bsolving\s+(?P<eq>.+?)(?:\s+for\s+(?P<x>[a-z]))?\s+(?:gives|yields)\s+(?P<vals>.+)$", s, re.I)
    )
    if not m:
        return None
    eq = _equation(m.group("eq"))
    values = _value_list(m.group("vals"))
    if not eq or not values:
        return None
    named = re.match(r"\s*([a-z])\s*=", m.group("vals"))
    var = m.groupdict().get("x") or (named.group(1) if named else _variable(eq, None))
    return f"solve({eq}, {var}) = [{', '.join(values)}]" if var else None


def _equation(text: str) -> str | None:
    t = re.sub(r"^(?:the\s+)?(?:equation|polynomial|quadratic)\s+", "", text.strip(), flags=re.I)
    parts = [p.strip() for p in t.split("=")]
    if len(parts) > 2 or any(_whole(p) is None for p in parts):
        return None
    return " = ".join(_whole(p) or "" for p in parts)


# ---------------------------------------------------------------- percentages

_P = rf"(?P<p>{_NUM})\s*(?:%|\s*percent\b)"
_AMOUNT = r"[$€£]?\s*(?P<{}>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|" + _NUM + r")"
_UNIT = r"(?:\s+(?!(?:is|are|was|equals?|gives|makes|of|off|by|to|from)\b)[A-Za-z]+)?"
"""One word naming what an amount counts ("80 signups"), skipped."""
_X, _Y, _A, _B = (_AMOUNT.format(n) + _UNIT for n in "xyab")
_IS = (
    r"\s*(?:=|\s(?:is|are|equals?|is\s+equal\s+to|equal\s+to|gives|makes|comes\s+(?:out\s+)?to|should\s+be|would\s+be)"
    r"|,?\s+(?:then\s+)?(?:(?:do|would|will)\s+(?:i|you|we)\s+|(?:i|you|we)\s+)?(?:get|end\s+up\s+with|have))"
    r"\s+(?:about\s+|approximately\s+)?"
)
_PERCENT_FORMS: list[tuple[str, str]] = [
    (rf"{_P}\s+of\s+{_X}{_IS}{_Y}", "{p}% of {x} = {y}"),
    (rf"{_Y}\s+(?:is|are|=|equals?|makes\s+up)\s+(?:about\s+)?{_P}\s+of\s+{_X}", "{p}% of {x} = {y}"),
    (
        rf"(?:(?:increas(?:e|ing)|rais(?:e|ing)|grow(?:ing)?)\s+)?{_X}\s+(?:(?:increased|raised|grown|marked\s+up|inflated)\s+)?(?:by|plus)\s+{_P}{_IS}{_Y}",
        "{x}*(1 + {p}%) = {y}",
    ),
    (
        rf"(?:(?:decreas(?:e|ing)|reduc(?:e|ing)|discount(?:ing)?|cut(?:ting)?|lower(?:ing)?)\s+)?{_X}\s+(?:(?:decreased|reduced|discounted|cut|lowered)\s+)?(?:by|minus|less)\s+{_P}{_IS}{_Y}",
        "{x}*(1 - {p}%) = {y}",
    ),
    (rf"(?:an?\s+)?{_P}\s+(?:off|discount\s+(?:on|off|of))\s+(?:of\s+)?{_X}{_IS}{_Y}", "{x}*(1 - {p}%) = {y}"),
    (
        rf"(?:an?\s+)?{_P}\s+(?:raise|increase|rise|markup|mark-up|surcharge)\s+(?:on|of|to)\s+(?:an?\s+|the\s+)?{_X}"
        rf"(?:\s+(?:makes|brings|takes)\s+it(?:\s+to)?\s+|{_IS}){_Y}",
        "{x}*(1 + {p}%) = {y}",
    ),
    (
        rf"(?:going\s+|growing\s+|rising\s+|dropping\s+|falling\s+)?from\s+{_A}\s+to\s+{_B}\s+(?:is|was|means|would\s+be)\s+"
        rf"(?:an?\s+|a\s+)?{_P}\s+(?P<dir>increase|rise|growth|gain|jump|decrease|drop|reduction|decline|fall|change|difference)",
        "",
    ),
]


def _amount(text: str | None) -> str:
    return (text or "").replace(",", "")


def _percentage_claim(s: str) -> str | None:
    for pattern, template in _PERCENT_FORMS:
        m = re.search(pattern, s, re.I)
        if not m:
            continue
        g = {k: _amount(v) for k, v in m.groupdict().items()}
        if template:
            return template.format(**g)
        a, b, p = g["a"], g["b"], g["p"]
        down = g["dir"].lower() in ("decrease", "drop", "reduction", "decline", "fall")
        return f"({a} - {b})/{a} = {p}%" if down else f"({b} - {a})/{a} = {p}%"
    return None


# ---------------------------------------------------------------- plain relations

_CODE_BEFORE = re.compile(
    r"\b(?:if|elif|while|return|assert|let|const|var|int|float|def|set|export|and|or|not)\s*$", re.I
)
_ARGUMENT_BEFORE = re.compile(
    r"\b(?:of|for|with|from|to|at|as|by|over|between|on|in|per|where|when|that\s+has)\s*$|[\w.]*_\w*\s*$", re.I
)
_ARGUMENT_AFTER = re.compile(
    r"^\s*(?:with\s+respect|wrt|w\.r\.t|as\s+[a-z]\b|from\b|at\s+[a-z]\s*=|[:;{]|then\b)", re.I
)


def _relation_claim(s: str) -> tuple[str, ClaimKind] | None:
    body, domain = _domain(s)
    rel = _relation(body, verbal=True)
    if rel is None:
        return None
    before, op, after = rel
    left, right = _tail(before), _head(after)
    if not left or not right:
        return None
    rest_before = before[: len(before) - len(left)] if before.endswith(left) else before[: before.rfind(left)]
    rest_after = after[after.find(right) + len(right) :]
    if _CODE_BEFORE.search(rest_before) or _ARGUMENT_BEFORE.search(rest_before) or _ARGUMENT_AFTER.match(rest_after):
        return None
    if not _is_claim_shape(left, right, op):
        return None
    kind: ClaimKind = "inequality" if op in ("<", ">", "<=", ">=", "!=") else "equality"
    if kind == "equality" and _variables(left + " " + right):
        kind = "identity"
    return f"{left} {op} {right}{domain}", kind


def _is_claim_shape(left: str, right: str, op: str) -> bool:
    """Both sides are formulas and the left is more than a name being defined (`x = 3`, `f(x) = x^2`)."""
    if re.fullmatch(r"[A-Za-z]\w*(?:\([^()]*\))?", left) and left.split("(")[0].lower() not in _FUNCTIONS | _CONSTANTS:
        return False
    if re.search(r"\b(?:det|tr|trace|rank|inv|inverse|transpose|eigenvalues)\s*\(\s*[A-Za-z]\s*\)", left + right):
        return False  # a matrix named but never given
    both = left + right
    has_digit = any(ch.isdigit() for ch in both)
    has_operation = any(ch in both for ch in "+-*/^()²³√π!×÷·%")
    if not has_operation and not (has_digit and re.search(r"\d", left)):
        return False  # "3 replicas = 6 pods" is prose, not a claim
    return has_digit or bool(re.search(r"[A-Za-z]", both))


# ---------------------------------------------------------------- looking like a claim

_TRIGGER = re.compile(
    r"\b(?:derivative|differentiat\w*|d/d[a-z]|integral|integrat\w*|antiderivative|limit\s+of|lim(?:_|\s+[a-z]\s*->)|"
    r"determinant|eigen-?values?|inverse\s+of|rank\s+of|trace\s+of|f1|f-score|f[- ]measure|precision|recall|"
    r"accuracy|percent|mean\s+of|average\s+of|median\s+of|variance|standard\s+deviation|for\s+all|"
    r"solutions?\s+(?:of|to)|roots?\s+of|square\s+root|equal\s+to|equals|identity)\b|\d\s*%",
    re.I,
)


def _looks_like_claim(cleaned: str, framed: bool) -> bool:
    """Reads like a math claim: a math term or a relation with numbers, stated or asked as a yes/no question."""
    if _WH.match(cleaned) or len(cleaned) < 5 or len(cleaned) > 400:
        return False
    has_relation = _relation(cleaned) is not None
    trigger = _TRIGGER.search(cleaned)
    if trigger and has_relation:
        metric = re.fullmatch(r"precision|recall|accuracy|f1|f-score|f[- ]measure", trigger.group(0), re.I)
        numbers = len(re.findall(r"\d", cleaned))
        return (
            framed
            and (not metric or numbers >= 2)
            or bool(re.search(r"derivative|integral|determinant|eigen", cleaned, re.I))
        )
    symbolic = _relation(cleaned, verbal=False)
    return framed and symbolic is not None and bool(_tail(symbolic[0]) and _head(symbolic[2]))


# ---------------------------------------------------------------- the scan

_Recogniser = Callable[[str, _Context], "tuple[str, ClaimKind] | None"]


def _typed(kind: ClaimKind, fn: Callable[[str, _Context], str | None]) -> _Recogniser:
    def recognise(s: str, ctx: _Context) -> tuple[str, ClaimKind] | None:
        text = fn(s, ctx)
        return (text, kind) if text else None

    return recognise


_RECOGNISERS: list[_Recogniser] = [
    _typed("matrix", _matrix_claim),
    _typed("metric", lambda s, ctx: _metric_claim(s, ctx) or _accuracy_ratio(s)),
    _typed("statistics", lambda s, _ctx: _summary_claim(s)),
    _typed("derivative", _derivative_claim),
    _typed("integral", _integral_claim),
    _typed("limit", lambda s, _ctx: _limit_claim(s)),
    _typed("solve", lambda s, _ctx: _solve_claim(s)),
    _typed("percentage", lambda s, _ctx: _percentage_claim(s)),
]
_OWNED = re.compile(
    r"\b(?:derivative|differentiat\w*|integral|integrating|antiderivative|area\s+under|limit\s+of|determinant|"
    r"eigen-?values?|inverse\s+of|rank\s+of|trace\s+of|f1|f-score|f[- ]measure|f\d|precision|recall|"
    r"accuracy|solutions?\s+(?:of|to)|roots?\s+of|solves|satisfies|mean\s+of|average\s+of|median\s+of|variance|"
    r"standard\s+deviation|\d\s*%\s+of|percent\s+of|increase|decrease|discount)\b|∫|\bd/d[a-z]\b",
    re.I,
)
"""Words that make a sentence one recogniser's: if that recogniser cannot read it, a plain relation would be wrong."""


_MAX_SENTENCE = 600
"""Longer "sentences" are pasted logs or data, not claims; the bound also keeps the regexes' work small."""


def _read(sentence: str, ctx: _Context) -> tuple[Claim | None, bool]:
    """The claim in one sentence, and whether the sentence reads like a claim at all."""
    if len(sentence) > _MAX_SENTENCE:
        return None, False
    cleaned, framed, inverted = _strip_frame(sentence)
    cleaned = _spoken(cleaned)
    variants = [cleaned]
    if inverted and _relation(cleaned) is None and " " in cleaned:
        first, rest = cleaned.split(" ", 1)
        most, last = cleaned.rsplit(" ", 1)
        variants += [f"{most} is {last}", f"{first} is {rest}"]  # "is A B?" -> "A is B"
    for variant in variants:
        for recognise in _RECOGNISERS:
            found = recognise(variant, ctx)
            if found:
                return Claim(text=found[0], kind=found[1], source=" ".join(sentence.split())), True
    if not _OWNED.search(cleaned) and not _WH.match(sentence.strip()):
        found = _relation_claim(cleaned)
        if found:
            return Claim(text=found[0], kind=found[1], source=" ".join(sentence.split())), True
    return None, _looks_like_claim(cleaned, framed)


_BRACKETED = re.compile(r"\[[^\[\]\n]{0,200}(?:\[[^\[\]\n]{0,200}\][^\[\]\n]{0,200})*\]")
"""A bracketed list or matrix, one level of nesting deep: kept whole when splitting sentences."""
_INDENTED_CODE = re.compile(r"^(?:\s{4,}|\t)(?![-*+]\s)")
"""A line of unfenced code, indented as Markdown code is."""


def scan_claims(text: str, limit: int = 3) -> ClaimScan:
    """Every checkable claim in `text` (at most `limit`) and the claim-like sentences that could not be read.

    Fenced code is skipped; inline code is read as text, so `2**10 = 1000` in backticks is a claim.
    """
    ctx = _Context()
    claims: list[Claim] = []
    unextracted: list[str] = []
    prose = "\n".join(line for line in strip_code(text).splitlines() if not _INDENTED_CODE.match(line))
    brackets: list[str] = []

    def mask(m: re.Match[str]) -> str:
        brackets.append(m.group(0))
        return f"\x01{len(brackets) - 1}\x01"

    # A matrix such as [1 2; 3 4] is one sentence's, whatever punctuation is inside it.
    masked = _BRACKETED.sub(mask, prose)
    for part in sentences(masked):
        sentence = re.sub(r"\x01(\d+)\x01", lambda m: brackets[int(m.group(1))], part)
        claim, claim_like = _read(sentence, ctx)
        if claim is not None and all(c.text != claim.text for c in claims):
            claims.append(claim)
        elif claim is None and claim_like and len(unextracted) < limit:
            unextracted.append(" ".join(sentence.split()))
    return ClaimScan(claims=claims[:limit], unextracted=unextracted)


def extract_claims(text: str, limit: int = 3) -> list[Claim]:
    """The checkable claims in `text`, in order, at most `limit`."""
    return scan_claims(text, limit).claims


def claim_in(sentence: str) -> Claim | None:
    """The claim one sentence states, if any, read without context from other sentences."""
    return _read(sentence, _Context())[0]
