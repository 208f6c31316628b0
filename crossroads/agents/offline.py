"""The offline model: a deterministic pydantic-ai `FunctionModel` that goes through the real agent loop.

It needs no network and no key, so `crossroads ask` works on a fresh machine. For a specialist it reads
the question the way a careful engineer would: code blocks go to `run_python` (or `run_sql`), arithmetic,
statistical and symbolic claims go to `check_math`, parts of the question that belong to a neighbour go
to `handoff`; then it answers from the sections of its card that BM25 ranks highest for the question,
citing their headings, and reports what the tools returned. Nothing in it knows particular questions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from crossroads.agents.cards import AgentCard
from crossroads.agents.prompting import parse_synthesis_prompt, split_specialist_prompt
from crossroads.offline.claims import claim_in, scan_claims
from crossroads.text import BM25, sentences, tokens

MODEL_NAME = "offline"
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


Scorer = Callable[[str], Mapping[str, float]]
"""Confidence in [0, 1] of every specialist for a piece of text (the router's classifier when there is one)."""
LEAN_MIN, LEAN_GAP = 0.55, 0.2
"""A clause leans on a neighbour when the neighbour's confidence for it reaches LEAN_MIN and beats the
specialist's own by LEAN_GAP."""
_CLAUSE = re.compile(
    r",\s+(?:and|but|then|also|plus)\s+|;\s+|\s+and\s+(?=(?:which|what|how|where|when|why|"
    r"who|should|do|does|can|is|are)\b)",
    re.I,
)


def clauses(text: str) -> list[str]:
    """Sentences split further at conjunctions that start a new request ("..., and which metrics ...")."""
    return [c.strip() for s in sentences(text) for c in _CLAUSE.split(s) if c and c.strip()]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Fenced code blocks as (language, code); language is lower case, possibly empty."""
    return [(lang.lower(), code) for lang, code in _FENCE.findall(text) if code.strip()]


def strip_code(text: str) -> str:
    return _FENCE.sub(" ", text)


class CardIndex:
    """BM25 over every card's text, squashed to [0, 1): the lean scorer when no classifier is at hand."""

    HALF = 2.5
    """The BM25 score that maps to 0.5."""

    def __init__(self, cards: Mapping[str, AgentCard]) -> None:
        self.names = sorted(cards)
        self.cards = cards

    @cached_property
    def bm25(self) -> BM25:
        """Built on first use, so constructing an orchestrator stays cheap."""
        docs = []
        for name in self.names:
            card = self.cards[name]
            profile = " ".join([card.description, *card.capabilities] * 3)
            headings = " ".join(s.heading for s in card.sections)
            docs.append(f"{profile} {headings} {card.body}")
        return BM25(docs)

    def __call__(self, text: str) -> dict[str, float]:
        return {n: s / (s + self.HALF) for n, s in zip(self.names, self.bm25.scores(text), strict=True)}


class OfflineSpecialist:
    """The offline model's behaviour for one specialist; `model()` wraps it in a `FunctionModel`."""

    def __init__(self, card: AgentCard, scorer: Scorer, neighbours: Mapping[str, str]) -> None:
        self.card = card
        self.scorer = scorer
        """Scores every specialist's fit for a piece of text (the router's classifier when available)."""
        self.neighbours = dict(neighbours)
        self.sections = card.sections

    @cached_property
    def section_index(self) -> BM25:
        """Built on first use, so constructing an orchestrator stays cheap.

        Glossary sections (lists of names) help routing but make poor answers, so they get an empty document here.
        """
        return BM25(["" if _is_glossary(s.text) else f"{s.heading} {s.heading} {s.text}" for s in self.sections])

    def model(self) -> FunctionModel:
        return FunctionModel(self.respond, model_name=f"{MODEL_NAME}:{self.card.name}")

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = _user_prompt(messages)
        part, question, covered = split_specialist_prompt(prompt)
        tools = {t.name for t in info.function_tools}
        if not _has_tool_calls(messages):
            calls = self.plan_tool_calls(part, tools, covered)
            if calls:
                return _response(calls, prompt)
        text = self.compose(part, _tool_returns(messages))
        return _response([TextPart(text)], prompt, text)

    def plan_tool_calls(self, part: str, tools: set[str], covered: list[str]) -> list[ToolCallPart]:
        calls: list[ToolCallPart] = []
        for lang, code in code_blocks(part)[:2]:
            if lang in {"sql", "sqlite", "postgresql", "mysql"} and "run_sql" in tools:
                calls.append(ToolCallPart("run_sql", {"query": code}))
            elif lang in {"", "python", "py", "python3", "pycon"} and "run_python" in tools:
                calls.append(ToolCallPart("run_python", {"code": code}))
        if "check_math" in tools:
            calls.extend(ToolCallPart("check_math", {"claim": claim.text}) for claim in scan_claims(part).claims)
        if "handoff" in tools:
            for target, text in self.leaning_parts(part, covered).items():
                calls.append(
                    ToolCallPart(
                        "handoff",
                        {"to": target, "question": text, "reason": self.neighbours.get(target, "neighbouring domain")},
                    )
                )
        return calls

    def leaning_parts(self, part: str, covered: list[str]) -> dict[str, str]:
        """Sentences of the question that clearly belong to a neighbour not already covered."""
        parts: dict[str, list[str]] = {}
        for sentence in clauses(strip_code(part)):
            words = [t for t in tokens(sentence) if not t.isdigit()]
            if len(words) < 4 or claim_in(sentence):
                continue
            scores = self.scorer(sentence)
            best = max(scores, key=lambda n: scores[n])
            own = scores.get(self.card.name, 0.0)
            if best in self.neighbours and best not in covered and scores[best] >= max(LEAN_MIN, own + LEAN_GAP):
                parts.setdefault(best, []).append(sentence)
        return {name: " ".join(texts) for name, texts in sorted(parts.items())[:2]}

    def compose(self, part: str, returns: list[ToolReturnPart]) -> str:
        query = strip_code(part)
        ranked = self.section_index.top(query, 3)
        lines = [f"**{self.card.display_name}**"]
        if not ranked:
            lines.append(
                f"My knowledge covers: {'; '.join(self.card.capabilities[:6])}. The question does not"
                " match any section of it closely, so here is where I would start:"
            )
            ranked = [(0, 0.0)] if self.sections else []
        for i, _ in ranked:
            section = self.sections[i]
            lines.append(f"\nFrom *{section.heading}*:")
            lines.extend(f"- {line}" for line in self._best_lines(section.text, query))
        for ret in returns:
            lines.append("\n" + describe_tool_return(ret))
        for sentence in scan_claims(part).unextracted:
            lines.append(f"\nI could not turn '{sentence}' into a claim I can check.")
        cited = ", ".join(f'"{self.sections[i].heading}"' for i, _ in ranked)
        if cited:
            lines.append(f"\nSources: {cited} ({self.card.display_name} card).")
        return "\n".join(lines)

    @staticmethod
    def _best_lines(text: str, query: str, k: int = 4) -> list[str]:
        candidates = [c for c in _items(text) if len(c) > 3]
        if len(candidates) <= k:
            return candidates
        top = BM25(candidates).top(query, k)
        chosen = sorted(i for i, _ in top) or list(range(k))
        return [candidates[i] for i in chosen]


def _is_glossary(text: str) -> bool:
    """A term index: several items, each typically a list of 15 or more comma-separated names."""
    counts = sorted(len([c for c in re.split(r"[,;]", item) if c.strip()]) for item in _items(text))
    return len(counts) >= 4 and counts[len(counts) // 2] >= 15


_ITEM_START = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|\|)")


def _items(text: str) -> list[str]:
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


def offline_synthesizer() -> FunctionModel:
    """Offline synthesis: one answer with a heading per specialist, in the router's order."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = _user_prompt(messages)
        _question, outputs = parse_synthesis_prompt(prompt)
        names = ", ".join(o.title.strip("*") for o in outputs)
        parts = [f"This question spans {len(outputs)} areas ({names}); each part is answered below."]
        for o in outputs:
            title = o.title.strip("*")
            body = o.answer.strip().removeprefix(f"**{title}**").strip()
            parts.append(f"\n## {title}\n{body}")
        text = "\n".join(parts)
        return _response([TextPart(text)], prompt, text)

    return FunctionModel(respond, model_name=f"{MODEL_NAME}:synthesizer")


def _user_prompt(messages: list[ModelMessage]) -> str:
    for message in messages:
        if isinstance(message, ModelRequest):
            for p in message.parts:
                if isinstance(p, UserPromptPart) and isinstance(p.content, str):
                    return p.content
    return ""


def _has_tool_calls(messages: list[ModelMessage]) -> bool:
    return any(isinstance(m, ModelResponse) and m.tool_calls for m in messages)


def _tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def _response(parts: list[Any], prompt: str, text: str = "") -> ModelResponse:
    """A response with a deterministic token estimate (about 4 characters a token)."""
    out = text or json.dumps([getattr(p, "args", "") for p in parts], default=str)
    usage = RequestUsage(input_tokens=max(1, len(prompt) // 4), output_tokens=max(1, len(out) // 4))
    return ModelResponse(parts=parts, usage=usage, model_name=MODEL_NAME)
