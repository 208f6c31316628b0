"""Conversations: earlier turns, the follow-up routing rule, and the bounded history specialists receive.

A conversation is a list of turns (a user's question, the assistant's answer, each with the trace that
answered it and the specialists the router chose). Three things make a follow-up work:

- **Routing with context** (`route_follow_up`). A follow-up like "which of the two is better for us?"
  says nothing about its topic, so routed alone it lands anywhere. The rule: a short follow-up stays
  with the previous turn's specialists unless, asked alone, it clearly routes elsewhere (a specialist
  the previous turn did not use, at `switch_confidence` or more); a longer follow-up is routed together
  with the previous question. The decision's `stage` is `conversation` and its `reason` says which case
  applied and with which numbers.
- **History for the specialists** (`bound_history`). The newest earlier exchanges are sent whole until
  `history_tokens` is used; older ones are summarised by extraction (the first sentence of each question
  and answer) within `summary_tokens`; beyond that the oldest are dropped. `HistoryWindow` (on the
  `AskResult`) states the counts. Extraction, not a model call: it costs nothing, is deterministic and
  cannot invent anything.
- **Storage**: the trace store keeps conversations in the same database (`ConversationStore`);
  without one, `MemoryConversations` keeps them for the orchestrator's lifetime.

Pure and cheap to import: no pydantic-ai here (the team turns turns into messages), and no settings
module either (the orchestrator hands the thresholds in as `Rules`), so the storage layer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from crossroads.errors import InputError
from crossroads.result import HistoryWindow, RouteDecision, RouteTarget
from crossroads.text import sentences

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
"""Conversation ids: what a client may choose (uuid, slug, `user:42:chat-3`), at most 128 characters."""
CONVERSATION_STAGE = "conversation"


@dataclass(frozen=True)
class Rules:
    """The thresholds of `settings.conversation` (see `ConversationSettings` for each one's meaning)."""

    history_tokens: int = 2000
    summary_tokens: int = 300
    short_follow_up_words: int = 12
    switch_confidence: float = 0.7
    max_turns: int = 200


class Turn(BaseModel):
    """One message of a conversation, with how it was answered."""

    role: Literal["user", "assistant"]
    content: str
    trace_id: str | None = None
    """The ask that produced (or answered) this turn."""
    agents: list[str] = Field(default_factory=list)
    """The specialists the router chose for this turn's ask (the same on both turns of an exchange)."""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Conversation(BaseModel):
    """A conversation: its id (None for one that is not stored) and its turns, oldest first."""

    id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    turns: list[Turn] = Field(default_factory=list)

    def exchanges(self) -> list[tuple[Turn, Turn | None]]:
        """The turns as (question, answer) pairs; consecutive turns of one role are merged."""
        pairs: list[tuple[Turn, Turn | None]] = []
        for turn in _merged(self.turns):
            if turn.role == "user":
                pairs.append((turn, None))
            elif pairs and pairs[-1][1] is None:
                pairs[-1] = (pairs[-1][0], turn)
            else:  # an answer without a question (a history starting with the assistant)
                pairs.append((Turn(role="user", content=""), turn))
        return pairs

    def previous(self) -> tuple[Turn, Turn | None] | None:
        """The latest exchange, or None for a new conversation."""
        pairs = self.exchanges()
        return pairs[-1] if pairs else None


def _merged(turns: Sequence[Turn]) -> list[Turn]:
    out: list[Turn] = []
    for turn in turns:
        if out and out[-1].role == turn.role:
            last = out[-1]
            out[-1] = last.model_copy(update={"content": f"{last.content}\n\n{turn.content}".strip()})
        else:
            out.append(turn)
    return out


def check_id(conversation_id: str) -> str:
    """A conversation id a client chose, or an `InputError` saying what an id may be."""
    if not isinstance(conversation_id, str) or not ID_PATTERN.match(conversation_id):
        raise InputError(
            "conversation id: 1 to 128 characters, letters, digits and . _ : - (starting with a letter or digit)"
        )
    return conversation_id


class ConversationStore(Protocol):
    """Where conversations live: the trace store's database, or memory."""

    async def aget_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None when there is none with this id."""
        ...

    async def aappend_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        """Append turns (creating the conversation); durable when it returns, so a follow-up sees them."""
        ...


class MemoryConversations:
    """Conversations in this process only: for an orchestrator without a trace store (the library default)."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}

    async def aget_conversation(self, conversation_id: str) -> Conversation | None:
        found = self._conversations.get(conversation_id)
        return found.model_copy(deep=True) if found is not None else None

    async def aappend_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        conversation = self._conversations.setdefault(conversation_id, Conversation(id=conversation_id))
        conversation.turns.extend(t.model_copy() for t in turns)
        conversation.updated_at = datetime.now(UTC)


# -- follow-up routing -------------------------------------------------------------------------------


def word_count(text: str) -> int:
    return len(re.findall(r"[\w'-]+", text))


def with_context(previous_question: str, follow_up: str) -> str:
    """What the router reads for a longer follow-up: the previous question, then the follow-up."""
    return f"{previous_question.strip()}\n{follow_up.strip()}"


def route_follow_up(
    follow_up: str,
    previous_agents: Sequence[str],
    alone: RouteDecision,
    in_context: RouteDecision | None,
    settings: Rules,
) -> RouteDecision:
    """The route of a follow-up, from the follow-up routed alone and (for a long one) with the previous question.

    Args:
        follow_up: The new question.
        previous_agents: The specialists of the previous turn (empty: route the follow-up as usual).
        alone: The router's decision for the follow-up alone.
        in_context: The router's decision for `with_context(previous question, follow_up)`; needed only
            for a follow-up longer than `settings.short_follow_up_words`.
        settings: The thresholds.
    """
    if not previous_agents:
        return alone
    top = alone.targets[0] if alone.targets else None
    changed = (
        not alone.abstain
        and top is not None
        and top.agent not in previous_agents
        and top.confidence >= settings.switch_confidence
    )
    alone_text = f"{top.agent} {top.confidence:.2f}" if top else "abstain"
    if changed:
        assert top is not None
        return alone.model_copy(
            update={
                "stage": CONVERSATION_STAGE,
                "reason": f"the follow-up changes topic: alone it routes to {alone_text}"
                f" (>= conversation.switch_confidence {settings.switch_confidence:g}), not to the previous"
                f" turn's {', '.join(previous_agents)}",
            }
        )
    words = word_count(follow_up)
    if words > settings.short_follow_up_words and in_context is not None and not in_context.abstain:
        return in_context.model_copy(
            update={
                "stage": CONVERSATION_STAGE,
                "targets": [t.model_copy(update={"sub_question": follow_up}) for t in in_context.targets],
                "reason": f"a longer follow-up ({words} words) routed together with the previous question;"
                f" alone it routes to {alone_text}",
            }
        )
    kept = [RouteTarget(agent=a, confidence=alone.scores.get(a, 0.0), sub_question=follow_up) for a in previous_agents]
    why = (
        f"a short follow-up ({words} words <= conversation.short_follow_up_words {settings.short_follow_up_words})"
        if words <= settings.short_follow_up_words
        else "a follow-up that routed nowhere with the previous question"
    )
    return RouteDecision(
        targets=kept,
        stage=CONVERSATION_STAGE,
        reason=f"{why} stays with the previous turn's {', '.join(previous_agents)}; alone it routes to"
        f" {alone_text}, below conversation.switch_confidence {settings.switch_confidence:g} or the same topic",
        scores=alone.scores,
        duration_ms=alone.duration_ms + (in_context.duration_ms if in_context else 0.0),
    )


# -- bounded history ---------------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """About 4 characters a token: the same estimate the offline model reports, no tokeniser needed."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class History:
    """What the specialists receive of a conversation: whole exchanges, a summary of older ones, the window."""

    exchanges: list[tuple[str, str]]
    """(question, answer) of the newest earlier exchanges, oldest first, sent whole."""
    summary: str
    window: HistoryWindow


def _first_sentence(text: str, limit: int = 200) -> str:
    found = sentences(text.strip())
    first = (found[0] if found else text.strip()).replace("\n", " ").strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def summarise(exchanges: Sequence[tuple[str, str]]) -> list[str]:
    """One line per exchange: the first sentence of its question and of its answer (extraction only)."""
    lines = []
    for question, answer in exchanges:
        line = f"- asked: {_first_sentence(question)}"
        if answer.strip():
            line += f" / answered: {_first_sentence(answer)}"
        lines.append(line)
    return lines


def bound_history(conversation: Conversation, settings: Rules, *, stored: bool, instructions: bool = False) -> History:
    """The earlier turns that fit `settings.history_tokens`: newest whole, older summarised, oldest dropped."""
    pairs = [(q.content, a.content if a is not None else "") for q, a in conversation.exchanges()]
    budget = settings.history_tokens
    kept: list[tuple[str, str]] = []
    used = 0
    older = len(pairs)
    for question, answer in reversed(pairs):  # newest first, while it fits whole
        cost = estimate_tokens(question) + estimate_tokens(answer)
        if used + cost > budget:
            break
        kept.insert(0, (question, answer))
        used += cost
        older -= 1
    summary_budget = min(settings.summary_tokens, budget - used)
    lines: list[str] = []
    summarised = 0
    for line in reversed(summarise(pairs[:older])):  # the most recent of the older ones first
        cost = estimate_tokens(line) + 1
        if summary_budget - cost < 0:
            break
        lines.insert(0, line)
        summary_budget -= cost
        used += cost
        summarised += 1
    summary = "\n".join(lines)
    window = HistoryWindow(
        conversation_id=conversation.id if stored else None,
        exchanges=len(pairs),
        included=len(kept),
        summarised=summarised,
        dropped=older - summarised,
        history_tokens=used,
        budget_tokens=budget,
        summary=summary,
        instructions=instructions,
    )
    return History(exchanges=kept, summary=summary, window=window)


def history_instructions(history: History | None, caller: str | None) -> str | None:
    """The run's extra instructions: the caller's (OpenAI system messages) and the summary of older turns."""
    parts = []
    if caller and caller.strip():
        parts.append(f"Instructions from the user's application (follow them):\n{caller.strip()}")
    if history is not None and history.summary:
        parts.append(
            "Earlier in this conversation (older turns, summarised; the recent ones are in the messages):\n"
            + history.summary
        )
    return "\n\n".join(parts) or None
