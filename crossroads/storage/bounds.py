"""Bound the size of one stored trace (`trace_max_bytes`).

A trace repeats the answer (top level and per specialist) and keeps every tool result, so a 50 MB
answer would become a 100 MB row, and a few of those fill a disk or stall a replica's writer. A trace
over the bound is stored with its longest strings cut, each ending in a marker that says how much was
cut; the JSON stays a valid `AskResult`, so every reader (CLI, API, web page) works on it unchanged.
Strings are cut to one common length, halved until the whole fits; if even short strings do not fit
(an enormous number of records), the longest lists are halved too, and as a last resort only the
summary fields are kept.
"""

from __future__ import annotations

import json
from typing import Any

from crossroads.result import AskResult

MARKER = "…[truncated by crossroads: {cut} of {total} characters cut, trace_max_bytes]"
_MIN_CAP = 64


def bounded_json(result: AskResult, max_bytes: int) -> tuple[str, bool]:
    """The result as JSON of at most `max_bytes` UTF-8 bytes (0: unbounded), and whether it was cut."""
    text = result.model_dump_json(warnings=False)
    if max_bytes <= 0 or len(text) * 4 <= max_bytes or len(text.encode()) <= max_bytes:
        return text, False
    data: Any = result.model_dump(mode="json", warnings=False)
    cap = max(_MIN_CAP, max_bytes // 2)
    while cap >= _MIN_CAP:
        cut = _cap_strings(data, cap)
        out = _dumps(cut)
        if len(out.encode()) <= max_bytes:
            return out, True
        cap //= 2
    cut = _cap_strings(data, _MIN_CAP)
    for _ in range(64):
        if not _halve_longest_list(cut):
            break
        out = _dumps(cut)
        if len(out.encode()) <= max_bytes:
            return out, True
    return _skeleton(result, max_bytes), True


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _cap_strings(node: Any, cap: int) -> Any:
    if isinstance(node, str):
        if len(node) <= cap + len(MARKER) + 16:
            return node
        return node[:cap] + MARKER.format(cut=len(node) - cap, total=len(node))
    if isinstance(node, dict):
        return {k: _cap_strings(v, cap) for k, v in node.items()}
    if isinstance(node, list):
        return [_cap_strings(v, cap) for v in node]
    return node


def _halve_longest_list(node: Any) -> bool:
    """Halve the longest list (of two or more items) anywhere in `node`; False when there is none."""
    best: list[Any] | None = None

    def visit(n: Any) -> None:
        nonlocal best
        if isinstance(n, dict):
            for v in n.values():
                visit(v)
        elif isinstance(n, list):
            if len(n) >= 2 and (best is None or len(n) > len(best)):
                best = n
            for v in n:
                visit(v)

    visit(node)
    if best is None:
        return False
    del best[(len(best) + 1) // 2 :]
    return True


def _skeleton(result: AskResult, max_bytes: int) -> str:
    """Only what identifies the ask: id, status, route, usage and cut question/answer/error."""
    room = max(_MIN_CAP, max_bytes // 8)
    keep = {"trace_id", "question", "answer", "status", "error", "route", "usage", "duration_ms", "started_at"}
    data: dict[str, Any] = result.model_dump(mode="json", include=keep, warnings=False)
    route = data["route"]
    data["route"] = {
        "targets": [{**t, "sub_question": ""} for t in route["targets"][:8]],
        "abstain": route["abstain"],
        "stage": route["stage"],
    }
    return _dumps(_cap_strings(data, room))
