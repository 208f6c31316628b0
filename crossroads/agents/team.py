"""The specialists of one orchestrator.

One pydantic-ai `Agent` per card, handoffs along graph edges, and synthesis of several answers into one.

A handoff is a tool call: the specialist asks a neighbour (and only a neighbour) to answer part of the
question, inside the same run budget. Along one branch no agent is visited twice, agents already
answering in parallel are not asked again, and the hop limit stops runaway chains.

The run that writes the final answer (the only specialist of a single-domain ask, or the synthesiser)
streams when its deps carry an `AnswerStream`: every model request of that run is a streamed request,
and its text goes out as it arrives. Handoff targets and the specialists of a multi-domain ask are not
streamed: their text is not the answer, and a plain request can still be retried if it fails half-way.
Retries and fallback of a streamed request happen before its first event reaches us (pydantic-ai primes
each attempt when a capability handles request errors, as `ResilientRequests` does), so a failure after
the first token ends the run instead of sending the client a second copy.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, RunContext, Tool
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    UserPromptPart,
)
from pydantic_ai.usage import RunUsage, UsageLimits

from crossroads.agents.mcp import McpServers
from crossroads.agents.tracing import trace_hooks
from crossroads.cards import AgentCard
from crossroads.config import McpSettings
from crossroads.errors import LimitExceeded, RunError
from crossroads.graph import ROUTER, HandoffGraph
from crossroads.prompting import (
    SYNTHESIS_INSTRUCTIONS,
    SpecialistOutput,
    specialist_instructions,
    specialist_prompt,
    synthesis_prompt,
)
from crossroads.providers import ModelFactory
from crossroads.result import HandoffRecord, ModelAttempt
from crossroads.streaming import AnswerStream
from crossroads.tools.base import SandboxTools
from crossroads.tools.models import MathResult, PythonResult, SqlResult
from crossroads.trace import Trace


@dataclass
class RunDeps:
    """What a specialist's tools see while it runs."""

    agent: str
    trace: Trace
    team: Team
    question: str
    """The whole question, for context."""
    visited: list[str]
    """Agents this branch has visited so far, starting at `router`; shared by the branch's handoffs."""
    covered: list[str] = field(default_factory=list)
    """Agents answering other parts of the question in parallel."""
    claimed: set[str] = field(default_factory=set)
    """Every agent working on this ask so far, shared by all branches: a second branch is not handed to
    an agent another branch already brought in."""
    hops: int = 0
    pending_attempts: list[ModelAttempt] = field(default_factory=list)
    answer: AnswerStream | None = None
    """Set on the run that writes the final answer when the caller streams: its text goes out as it arrives."""
    history: list[ModelMessage] = field(default_factory=list)
    """Earlier turns of the conversation (bounded), sent before this run's prompt; not to handoff targets,
    whose sub-question is self-contained."""
    instructions: str | None = None
    """Extra instructions for this run and its handoffs: the caller's system prompts, the summary of older turns."""
    model_settings: dict[str, Any] | None = None
    """Settings the caller passed through (temperature, top_p, seed) for every request of the ask."""


async def run_python(ctx: RunContext[RunDeps], code: str) -> PythonResult:
    """Run a Python snippet in an isolated sandbox (no network, no host files, time and memory limits).

    Args:
        code: The complete Python source to run; print what you want to see.
    """
    return await ctx.deps.team.toolbox.run_python(code)


async def check_math(ctx: RunContext[RunDeps], claim: str) -> MathResult:
    """Verify a mathematical or statistical claim symbolically and numerically, e.g. `17*23 = 391`,
    `d/dx x**3 = 3*x**2`, `log(a*b) = log(a) + log(b)`, `F1 with precision 0.8 and recall 0.5 = 0.615`.

    Args:
        claim: The claim, written as `left = right` (or a relation such as `<`).
    """  # noqa: D205 - models read this docstring as the tool's description; keep it as recorded
    return await ctx.deps.team.toolbox.check_math(claim)


async def run_sql(
    ctx: RunContext[RunDeps], query: str, tables: dict[str, list[dict[str, Any]]] | None = None
) -> SqlResult:
    """Run SQL against an empty in-memory database, optionally creating small tables first.

    Args:
        query: One or more SQL statements; the result of the last one is returned.
        tables: Optional tables to create, as {table name: list of row objects}.
    """
    return await ctx.deps.team.toolbox.run_sql(query, tables)


TOOLS = {"run_python": run_python, "check_math": check_math, "run_sql": run_sql}


async def handoff(ctx: RunContext[RunDeps], to: str, question: str, reason: str = "") -> dict[str, str]:
    """Hand part of the question to a neighbouring specialist and get its answer back.

    Args:
        to: The neighbour's name.
        question: The part of the question the neighbour should answer, self-contained.
        reason: Why this neighbour is the right expert, in a few words.
    """
    return await ctx.deps.team.handoff(ctx, to, question, reason)


class Team:
    """Builds the agents once; runs specialists, handoffs and synthesis for each ask."""

    def __init__(
        self,
        cards: Mapping[str, AgentCard],
        graph: HandoffGraph,
        models: ModelFactory,
        toolbox: SandboxTools,
        *,
        max_hops: int,
        mcp: McpServers | None = None,
    ) -> None:
        """Build one agent per card; `mcp` holds the MCP servers the cards bring (started on first use)."""
        self.cards = dict(cards)
        self.graph = graph
        self.toolbox = toolbox
        self.max_hops = max_hops
        self.mcp = mcp if mcp is not None else McpServers(self.cards, McpSettings())
        hooks = trace_hooks()
        # One Tool per function for the whole team: building a tool's JSON schema is the costly part.
        shared = {
            name: Tool(fn, takes_ctx=True)
            for name, fn in TOOLS.items()
            if any(name in c.tools for c in self.cards.values())
        }
        handoff_tool = Tool(handoff, takes_ctx=True)
        self.agents: dict[str, Agent[RunDeps, str]] = {}
        for name, card in self.cards.items():
            neighbours = graph.neighbours(name)
            tools: list[Tool[RunDeps]] = [shared[t] for t in card.tools]
            if neighbours:
                listing = "; ".join(f"{n}: {r}" for n, r in neighbours.items())
                offer = copy.copy(handoff_tool)  # same schema, a description naming this agent's neighbours
                offer.description = (
                    "Hand part of the question to a neighbouring specialist and get its answer"
                    f" back. Allowed neighbours: {listing}."
                )
                tools.append(offer)
            self.agents[name] = Agent(
                models.specialist(name),
                name=name,
                deps_type=RunDeps,
                output_type=str,
                instructions=specialist_instructions(card, neighbours),
                tools=tools,
                toolsets=self.mcp.toolsets(card) or None,
                capabilities=[hooks, *models.capabilities(name)],
                retries=2,
            )
        self.synthesizer: Agent[RunDeps, str] = Agent(
            models.synthesizer(),
            name="synthesizer",
            deps_type=RunDeps,
            output_type=str,
            instructions=SYNTHESIS_INSTRUCTIONS,
            capabilities=[hooks, *models.capabilities("synthesizer")],
        )

    async def run_specialist(
        self, agent: str, part: str, deps: RunDeps, usage: RunUsage, limits: UsageLimits | None
    ) -> str:
        prompt = specialist_prompt(part, deps.question, deps.covered)
        await self.mcp.start(agent)
        return await _run(self.agents[agent], prompt, deps, usage, limits)

    async def handoff(self, ctx: RunContext[RunDeps], to: str, question: str, reason: str) -> dict[str, str]:
        deps = ctx.deps
        hop = deps.hops + 1
        refusal = None
        if not self.graph.has_edge(deps.agent, to):
            allowed = ", ".join(self.graph.neighbours(deps.agent)) or "none"
            refusal = f"'{to}' is not a neighbour of {deps.agent} in the handoff graph (allowed: {allowed})"
        elif to in deps.visited:
            refusal = f"'{to}' was already visited on this path ({' -> '.join(deps.visited)})"
        elif to in deps.claimed:
            refusal = f"'{to}' is already answering another part of this question in parallel"
        else:
            try:  # a neighbour whose MCP servers cannot start is unavailable, not a failure of this branch
                await self.mcp.start(to)
            except RunError as exc:
                refusal = str(exc)
        if refusal:
            deps.trace.add_handoff(
                HandoffRecord(source=deps.agent, target=to, reason=reason, hop=hop, accepted=False, note=refusal)
            )
            return {"agent": to, "answer": f"handoff refused: {refusal}. Answer this part yourself."}
        if hop > self.max_hops:
            deps.trace.add_handoff(
                HandoffRecord(source=deps.agent, target=to, reason=reason, hop=hop, accepted=False, note="hop limit")
            )
            raise LimitExceeded(
                "max_hops", f"handoff {deps.agent} -> {to} would be hop {hop}; the limit is {self.max_hops}"
            )
        deps.trace.add_handoff(HandoffRecord(source=deps.agent, target=to, reason=reason, hop=hop))
        deps.visited.append(to)
        deps.claimed.add(to)
        child = RunDeps(
            agent=to,
            trace=deps.trace,
            team=self,
            question=deps.question,
            visited=deps.visited,
            covered=deps.covered,
            claimed=deps.claimed,
            hops=hop,
            instructions=deps.instructions,
            model_settings=deps.model_settings,
        )
        answer = await self.run_specialist(to, question, child, ctx.usage, ctx.usage_limits)
        return {"agent": to, "answer": answer}

    async def synthesize(
        self, question: str, outputs: list[SpecialistOutput], deps: RunDeps, usage: RunUsage, limits: UsageLimits
    ) -> str:
        return await _run(self.synthesizer, synthesis_prompt(question, outputs), deps, usage, limits)


def run_text(messages: Sequence[ModelMessage]) -> str:
    """The text a run said: each response's text parts, responses with text joined by a blank line.

    Not only the last response's: a model may write text before a tool call ("Let me check that"),
    and a streamed run sends that text before anyone knows a tool call follows. Reading a plain run
    the same way keeps `ask()` and `stream()` answers identical.
    """
    texts = [
        "".join(p.content for p in m.parts if isinstance(p, TextPart)) for m in messages if isinstance(m, ModelResponse)
    ]
    return "\n\n".join(t for t in texts if t)


def text_piece(event: AgentStreamEvent) -> str:
    """The answer text an event of a streamed response carries ("" for tool calls, thinking, ...)."""
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        return event.part.content
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return event.delta.content_delta
    return ""


async def _run(
    agent: Agent[RunDeps, str], prompt: str, deps: RunDeps, usage: RunUsage, limits: UsageLimits | None
) -> str:
    """Run `agent`; streamed, sending its text to `deps.answer`, when the deps carry one."""
    options: dict[str, Any] = {
        "deps": deps,
        "usage": usage,
        "usage_limits": limits,
        "message_history": deps.history or None,
        "instructions": deps.instructions,
        "model_settings": deps.model_settings,
    }
    if deps.answer is None:
        result = await agent.run(prompt, **options)
        return run_text(result.new_messages())
    sink = deps.answer
    said = False  # some earlier response of this run had text: the next one starts after a blank line
    async with agent.iter(prompt, **options) as run:
        async for node in run:
            if not Agent.is_model_request_node(node):
                continue  # tool calls (and handoffs) run as the loop advances
            fresh = True
            async with node.stream(run.ctx) as events:
                async for event in events:
                    piece = text_piece(event)
                    if not piece:
                        continue
                    if fresh and said:
                        sink.send("\n\n")
                    fresh, said = False, True
                    sink.send(piece)
    return sink.text


def history_messages(exchanges: Sequence[tuple[str, str]]) -> list[ModelMessage]:
    """Earlier (question, answer) exchanges as the message history a run continues from.

    An exchange without an answer (a failed turn) is left out: two requests in a row are not a
    conversation any provider accepts.
    """
    messages: list[ModelMessage] = []
    for question, answer in exchanges:
        if question.strip() and answer.strip():
            messages.append(ModelRequest(parts=[UserPromptPart(question)]))
            messages.append(ModelResponse(parts=[TextPart(answer)]))
    return messages


def new_branch(
    agent: str,
    trace: Trace,
    team: Team,
    question: str,
    covered: list[str],
    claimed: set[str] | None = None,
    *,
    answer: AnswerStream | None = None,
    history: list[ModelMessage] | None = None,
    instructions: str | None = None,
    model_settings: dict[str, Any] | None = None,
) -> RunDeps:
    """Deps of one routed specialist. Pass the same `claimed` set to every branch of an ask.

    `answer` makes this branch stream the final answer (only for the single branch of an ask);
    `history`, `instructions` and `model_settings` carry a conversation's context (see `RunDeps`).
    """
    return RunDeps(
        agent=agent,
        trace=trace,
        team=team,
        question=question,
        visited=[ROUTER, agent],
        covered=[c for c in covered if c != agent],
        claimed=claimed if claimed is not None else set(covered),
        answer=answer,
        history=list(history or []),
        instructions=instructions,
        model_settings=model_settings,
    )
