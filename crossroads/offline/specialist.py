"""The offline specialist: a deterministic pydantic-ai `FunctionModel` that goes through the real agent loop.

It needs no network and no key, so `crossroads ask` works on a fresh machine. It reads the question the
way a careful engineer would: code blocks go to `run_python` (or `run_sql`), arithmetic, statistical and
symbolic claims go to `check_math`, parts of the question that belong to a neighbour go to `handoff`;
then it answers from the sections of its card that BM25 ranks highest for the question, citing their
headings, and reports what the tools returned. Nothing in it knows particular questions.

In a conversation it reads the earlier questions in its message history: a short follow-up ("which
of the two is better for us?") is answered from the sections that fit it together with the previous
question, and the answer says which question it follows up on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cached_property

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.cards import AgentCard
from crossroads.offline.claims import claim_in, scan_claims
from crossroads.offline.messages import (
    MODEL_NAME,
    earlier_prompts,
    has_tool_calls,
    response,
    streamed,
    tool_returns,
    user_prompt,
)
from crossroads.offline.reports import describe_tool_return, is_glossary, items
from crossroads.prompting import split_specialist_prompt
from crossroads.text import BM25, clauses, code_blocks, strip_code, tokens

Scorer = Callable[[str], Mapping[str, float]]
"""Confidence in [0, 1] of every specialist for a piece of text (the router's classifier when there is one)."""
LEAN_MIN, LEAN_GAP = 0.55, 0.2
"""A clause leans on a neighbour when the neighbour's confidence for it reaches LEAN_MIN and beats the
specialist's own by LEAN_GAP."""
FOLLOW_UP_WORDS = 8
"""A part with at most this many content words that refers back is ranked with the question it follows."""
_REFERRING = frozenset(
    "it its this that these those they them their both either neither one ones two same other instead above".split()
)


def refers_back(text: str) -> bool:
    """A short question that points at something said before ("which of the two", "is it safe")."""
    words = re.findall(r"[a-z']+", text.lower())
    return len(tokens(text)) <= FOLLOW_UP_WORDS and any(w in _REFERRING for w in words)


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
        return BM25(["" if is_glossary(s.text) else f"{s.heading} {s.heading} {s.text}" for s in self.sections])

    def model(self) -> FunctionModel:
        """The pydantic-ai model: `respond` for plain requests, the same answers word by word when streamed."""
        return FunctionModel(
            self.respond, stream_function=streamed(self.respond), model_name=f"{MODEL_NAME}:{self.card.name}"
        )

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = user_prompt(messages)
        part, question, covered = split_specialist_prompt(prompt)
        tools = {t.name for t in info.function_tools}
        if not has_tool_calls(messages):
            calls = self.plan_tool_calls(part, tools, covered)
            if calls:
                return response(calls, prompt)
        earlier = earlier_prompts(messages)
        text = self.compose(part, tool_returns(messages), follows=earlier[-1] if earlier else "")
        return response([TextPart(text)], prompt, text)

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

    def compose(self, part: str, returns: list[ToolReturnPart], follows: str = "") -> str:
        """The answer: ranked card sections, tool results, sources; `follows` is the previous question."""
        query = strip_code(part)
        follows = follows if follows and refers_back(query) else ""
        if follows:  # "which of the two ...": too little to rank on alone, so rank with what it follows
            query = f"{query} {strip_code(follows)}"
        ranked = self.section_index.top(query, 3)
        lines = [f"**{self.card.display_name}**"]
        if follows:
            lines.append(f"\nFollowing up on your earlier question: {follows.strip()[:300]}")
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
        candidates = [c for c in items(text) if len(c) > 3]
        if len(candidates) <= k:
            return candidates
        top = BM25(candidates).top(query, k)
        chosen = sorted(i for i, _ in top) or list(range(k))
        return [candidates[i] for i in chosen]
