"""How the offline model reads its card and reports tool results: section items and faithful summaries."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_ai.messages import ToolReturnPart


def is_glossary(text: str) -> bool:
    """A term index: several items, each typically a list of 15 or more comma-separated names."""
    counts = sorted(len([c for c in re.split(r"[,;]", item) if c.strip()]) for item in items(text))
    return len(counts) >= 4 and counts[len(counts) // 2] >= 15


_ITEM_START = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|\|)")


def items(text: str) -> list[str]:
    """Bullets, numbered items and paragraphs of a section, with hard-wrapped lines joined."""
    items: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _ITEM_START.match(line) or line.lstrip().startswith("#"):
            if current:
                items.append(" ".join(current))
            current = []
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            line = _ITEM_START.sub("", line, count=1)
        current.append(line.strip())
    if current:
        items.append(" ".join(current))
    return [re.sub(r"\*\*|__", "", i).strip() for i in items if i.strip()]


def describe_tool_return(ret: ToolReturnPart) -> str:
    """A short, faithful report of one tool result."""
    content: Any = ret.content
    if hasattr(content, "model_dump"):
        content = content.model_dump(mode="json")
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            return f"Tool `{ret.tool_name}` returned: {content[:1500]}"
    if not isinstance(content, dict):
        return f"Tool `{ret.tool_name}` returned: {str(content)[:1500]}"
    if ret.tool_name == "run_python":
        if content.get("ok"):
            out = (content.get("stdout") or "").strip() or "(no output)"
            return f"Ran the code in the sandbox ({content.get('tier')}): it succeeded. Output:\n```\n{out[:1500]}\n```"
        if content.get("timed_out"):
            seconds = content.get("duration_ms", 0) / 1000
            why = (
                f"it timed out: it did not finish within the time limit and was stopped after {seconds:.1f} s"
                " (an endless loop or a long computation)"
            )
        else:
            detail = (content.get("error") or content.get("stderr") or "no error output").strip()[:1500]
            why = f"it failed:\n```\n{detail}\n```"
        return f"Ran the code in the sandbox ({content.get('tier')}): {why}"
    if ret.tool_name == "check_math":
        verdict = {True: "verified: true", False: "verified: false", None: "undecided"}[content.get("verified")]
        detail = content.get("counterexample") or content.get("difference") or content.get("error") or ""
        assumptions = ", ".join(content.get("assumptions") or [])
        if content.get("conditional"):
            extra = f" It holds only when {assumptions}."
        else:
            extra = f" Assumptions: {assumptions}." if assumptions else ""
        more = f" ({json.dumps(detail) if isinstance(detail, dict) else detail})" if detail else ""
        return f"Checked the claim `{content.get('claim')}` ({content.get('kind')}): {verdict}{more}.{extra}"
    if ret.tool_name == "run_sql":
        if not content.get("ok"):
            return f"Ran the SQL: error: {content.get('error')}"
        cols = ", ".join(content.get("columns") or [])
        rows = content.get("rows") or []
        shown = "\n".join(" | ".join(str(c) for c in row) for row in rows[:10])
        return f"Ran the SQL ({content.get('row_count')} rows):\n```\n{cols}\n{shown}\n```"
    if ret.tool_name == "handoff":
        return f"Handed part of the question over; the answer:\n{content.get('answer', content)}"
    return f"Tool `{ret.tool_name}` returned: {json.dumps(content)[:1500]}"
