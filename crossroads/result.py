"""What an ask returns: the answer plus a trace of every routing decision, handoff, tool call and model request.

These pydantic models are the boundary of crossroads: the CLI prints them, the HTTP API serves them, the
trace store persists them and scenario tests assert on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "out_of_scope", "error", "cancelled"]
"""How an ask ended: answered, outside every specialist's scope, failed, or cancelled by its caller."""


class RouteTarget(BaseModel):
    """One specialist the router chose, with its confidence and its part of the question."""

    agent: str
    confidence: float
    sub_question: str
    """The part of the question this specialist should answer (the whole question for one target)."""


class RouteDecision(BaseModel):
    """The router's choice for one question."""

    targets: list[RouteTarget] = Field(default_factory=list)
    """Chosen specialists, best first. Empty when the router abstains."""
    abstain: bool = False
    """True when no specialist fits: the question is out of scope."""
    stage: str = "local"
    """Which router decided: `keyword`, `local`, `llm`, or `fixed` (routing bypassed)."""
    reason: str = ""
    scores: dict[str, float] = Field(default_factory=dict)
    """Confidence of every specialist, including the ones not chosen."""
    duration_ms: float = 0.0

    @property
    def agents(self) -> list[str]:
        return [t.agent for t in self.targets]

    @property
    def primary(self) -> str | None:
        return self.targets[0].agent if self.targets else None


class ToolCallRecord(BaseModel):
    """One tool call of a specialist: arguments, result and duration."""

    agent: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    duration_ms: float = 0.0
    ok: bool = True
    """False when the tool raised, or reported that it could not run."""
    started_ms: float | None = None
    """When the call started, in ms after the ask started (None in traces recorded before it existed)."""


class ModelAttempt(BaseModel):
    """One failed try at a model request, before a retry or a fallback."""

    model: str
    error: str
    status: int | None = None
    wait_s: float = 0.0


class ModelRequestRecord(BaseModel):
    """One model request: tokens, duration, and the failed attempts before it."""

    agent: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    duration_ms: float = 0.0
    attempts: list[ModelAttempt] = Field(default_factory=list)
    """Failed tries before this request succeeded (or gave up): retries and fallbacks."""
    error: str | None = None
    """Set when every retry and fallback failed; the request then counts no tokens."""
    started_ms: float | None = None
    """When the request started, in ms after the ask started (None in traces recorded before it existed)."""


class HandoffRecord(BaseModel):
    """One handoff from a specialist to a neighbour, accepted or refused."""

    source: str
    target: str
    reason: str = ""
    hop: int = 1
    accepted: bool = True
    note: str = ""
    """Why a handoff was refused (not a neighbour, already visited, hop limit)."""
    started_ms: float | None = None
    """When the handoff was made, in ms after the ask started (None in traces recorded before it existed)."""


class SpecialistAnswer(BaseModel):
    """What one routed specialist answered, and the path its branch took."""

    agent: str
    question: str
    answer: str = ""
    path: list[str] = Field(default_factory=list)
    """Agents this branch visited, starting at `router`."""
    error: str | None = None


class Usage(BaseModel):
    """Requests and tokens of one ask, summed over every model request."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, record: ModelRequestRecord) -> None:
        if record.error is None:
            self.requests += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cache_read_tokens += record.cache_read_tokens
        self.cache_write_tokens += record.cache_write_tokens


class HistoryWindow(BaseModel):
    """How a follow-up's conversation was used: which earlier turns the specialists received, and why.

    The history is bounded by a token budget (`conversation.history_tokens`): the newest earlier
    exchanges are sent whole, older ones are summarised by extraction, and once the summary is full
    the oldest are dropped. The counts say exactly what happened, so a trace shows what context an
    answer had.
    """

    conversation_id: str | None = None
    """The stored conversation, or None for history the caller sent (the OpenAI `messages` list)."""
    exchanges: int = 0
    """Earlier question-answer exchanges available."""
    included: int = 0
    """Exchanges sent whole (the newest)."""
    summarised: int = 0
    """Older exchanges sent as one extractive summary."""
    dropped: int = 0
    """Oldest exchanges not sent at all (over the budget)."""
    history_tokens: int = 0
    """Estimated tokens of what was sent (whole turns plus summary)."""
    budget_tokens: int = 0
    summary: str = ""
    instructions: bool = False
    """Whether caller instructions (OpenAI system or developer messages) went to the specialists."""


class AskResult(BaseModel):
    """The answer to one question and the full trace of how it was produced."""

    trace_id: str
    question: str
    answer: str
    status: Status = "ok"
    error: str | None = None
    route: RouteDecision
    handoff_path: list[str] = Field(default_factory=list)
    """Every agent visited, in order, starting at `router` (branches concatenated)."""
    specialists: list[SpecialistAnswer] = Field(default_factory=list)
    handoffs: list[HandoffRecord] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    model_requests: list[ModelRequestRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    duration_ms: float = 0.0
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    conversation: HistoryWindow | None = None
    """Set for an ask that continued a conversation: the history it used (None for a lone question)."""

    def summary(self) -> ResultSummary:
        """The few fields a listing, a response header or a test report shows (the answer excluded)."""
        return ResultSummary(
            trace_id=self.trace_id,
            status=self.status,
            route=self.route.agents,
            stage=self.route.stage,
            abstain=self.route.abstain,
            handoff_path=self.handoff_path,
            tool_calls=[f"{c.agent}.{c.name}" for c in self.tool_calls],
            requests=self.usage.requests,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            duration_ms=self.duration_ms,
            error=self.error,
            conversation_id=self.conversation.conversation_id if self.conversation else None,
        )


class ResultSummary(BaseModel):
    """An ask at a glance: how it was routed and answered, without the answer and the full trace.

    The one summary every surface shows: the `crossroads` field of OpenAI-shaped responses, the MCP
    `ask` output, scenario reports.
    """

    trace_id: str
    status: Status
    route: list[str]
    stage: str
    abstain: bool = False
    handoff_path: list[str] = Field(default_factory=list)
    tool_calls: list[str] = Field(default_factory=list)
    """Every tool call as `agent.tool`, in order."""
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: float = 0.0
    error: str | None = None
    conversation_id: str | None = None
    """The stored conversation this ask continued, if any."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens
