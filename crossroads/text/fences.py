"""Fenced code blocks (```lang ... ```) in questions and answers.

Questions paste code, stack traces and SQL between fences; the router keeps a fenced block whole inside
its sentence, the offline model runs it, and a JSON assertion reads an answer that is one fenced block.
A fence that is never closed runs to the end of the text (a pasted snippet often loses its last line).
"""

from __future__ import annotations

import re

FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*(?:\n(.*?))?(?:```|\Z)", re.DOTALL)
"""One fenced block: group 1 is the info string's language (maybe empty), group 2 the code."""
_WHOLE = re.compile(r"^\s*```[A-Za-z]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks as (language, code); language is lower case, possibly empty."""
    return [(m.group(1).lower(), m.group(2)) for m in FENCE.finditer(text) if m.group(2) and m.group(2).strip()]


def strip_code(text: str) -> str:
    """The text with every fenced block replaced by a space (prose only)."""
    return FENCE.sub(" ", text)


def has_code(text: str) -> bool:
    """Whether the text holds a fenced code block."""
    return "```" in text and FENCE.search(text) is not None


def unwrap_fenced(text: str) -> str:
    """The code of a text that is exactly one fenced block (e.g. JSON an answer fenced); else the text."""
    match = _WHOLE.match(text)
    return match.group(1) if match else text
