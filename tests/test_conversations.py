"""Conversations: follow-up routing with context, bounded history for the specialists, stored turns.

The follow-up of the issue ("which of the two is better for us?") routed alone goes to core-dev; in a
conversation it stays with the previous turn's specialists and its answer is about the two databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from storage_support import postgres_server, postgres_url  # noqa: F401  (fixtures)

from crossroads.config import load_settings
from crossroads.conversation import (
    Conversation,
    Rules,
    Turn,
    bound_history,
    estimate_tokens,
    route_follow_up,
)
from crossroads.errors import InputError
from crossroads.events import Done, RouteDecided, TextDelta
from crossroads.offline.messages import streamed
from crossroads.orchestrator import Orchestrator
from crossroads.providers import ModelFactory
from crossroads.result import RouteDecision, RouteTarget

pytestmark = pytest.mark.anyio

FIRST = "Should we store our ML feature data in PostgreSQL or in MongoDB?"
FOLLOW_UP = "which of the two is better for us?"
ELSEWHERE = "What about Rust lifetimes in async code?"


def decision(*targets: tuple[str, float], abstain: bool = False) -> RouteDecision:
    return RouteDecision(
        targets=[RouteTarget(agent=a, confidence=c, sub_question="q") for a, c in targets],
        abstain=abstain,
        scores=dict(targets),
        stage="local",
    )


# -- the routing rule ----------------------------------------------------------------------------------


def test_a_short_follow_up_stays_with_the_previous_specialists() -> None:
    got = route_follow_up(FOLLOW_UP, ["data-ai", "core-dev"], decision(("core-dev", 0.43)), None, Rules())
    assert got.agents == ["data-ai", "core-dev"] and got.stage == "conversation"
    assert all(t.sub_question == FOLLOW_UP for t in got.targets)
    assert "short follow-up" in got.reason and "core-dev 0.43" in got.reason and "0.7" in got.reason


def test_a_follow_up_that_clearly_routes_elsewhere_changes_topic() -> None:
    got = route_follow_up(ELSEWHERE, ["data-ai"], decision(("language", 0.93)), None, Rules())
    assert got.agents == ["language"] and got.stage == "conversation" and "changes topic" in got.reason


@pytest.mark.parametrize(
    ("alone", "why"),
    [
        (decision(("language", 0.69)), "below the switch confidence"),
        (decision(("data-ai", 0.95)), "the same specialist, however confident"),
        (decision(abstain=True), "abstains alone"),
    ],
)
def test_not_clearly_elsewhere_keeps_the_previous_specialists(alone: RouteDecision, why: str) -> None:
    got = route_follow_up("and is that safe?", ["data-ai"], alone, None, Rules())
    assert got.agents == ["data-ai"], why


def test_a_long_follow_up_is_routed_with_the_previous_question() -> None:
    long = "and if we also need full text search over the product descriptions and reports, which one then?"
    in_context = decision(("data-ai", 0.8), ("core-dev", 0.6))
    got = route_follow_up(long, ["data-ai"], decision(("core-dev", 0.4)), in_context, Rules())
    assert got.agents == ["data-ai", "core-dev"] and "routed together with the previous question" in got.reason
    assert {t.sub_question for t in got.targets} == {long}


def test_no_previous_specialists_routes_as_usual() -> None:
    alone = decision(("core-dev", 0.43))
    assert route_follow_up(FOLLOW_UP, [], alone, None, Rules()) is alone


# -- the history bound ---------------------------------------------------------------------------------


def conversation_of(n: int, size: int = 400) -> Conversation:
    turns = []
    for i in range(n):
        turns.append(Turn(role="user", content=f"Question {i}. " + "Some more words here. " * (size // 22)))
        turns.append(Turn(role="assistant", content=f"Answer {i}. " + "And the details follow. " * (size // 24)))
    return Conversation(id="c", turns=turns)


def test_newest_turns_whole_older_summarised_oldest_dropped() -> None:
    rules = Rules(history_tokens=700, summary_tokens=30)
    history = bound_history(conversation_of(10), rules, stored=True)
    w = history.window
    assert w.exchanges == 10 and w.included + w.summarised + w.dropped == 10
    assert w.included == 3 and w.summarised >= 1 and w.dropped >= 1
    assert [q.split(".")[0] for q, _ in history.exchanges] == ["Question 7", "Question 8", "Question 9"]
    assert w.history_tokens <= rules.history_tokens and w.budget_tokens == 700
    kept_summary = [line.split(":")[1].strip().split(".")[0] for line in history.summary.splitlines()]
    assert kept_summary == [f"Question {i}" for i in range(7 - w.summarised, 7)]  # the most recent older ones
    assert w.conversation_id == "c"


def test_no_summary_budget_drops_and_zero_budget_sends_nothing() -> None:
    dropped = bound_history(conversation_of(10), Rules(history_tokens=700, summary_tokens=0), stored=False)
    assert dropped.window.summarised == 0 and dropped.window.dropped == 7 and dropped.summary == ""
    assert dropped.window.conversation_id is None
    nothing = bound_history(conversation_of(3), Rules(history_tokens=0), stored=True)
    assert nothing.exchanges == [] and nothing.window.dropped == 3


def test_estimate_is_about_four_characters_a_token() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("a" * 401) == 101


# -- through the orchestrator --------------------------------------------------------------------------


async def test_follow_up_stays_with_the_specialists_and_answers_about_the_databases(fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        alone = await crossroads.route(FOLLOW_UP)
        chat = crossroads.new_conversation_id()
        first = await crossroads.ask(FIRST, conversation=chat)
        follow = await crossroads.ask(FOLLOW_UP, conversation=chat)
        change = await crossroads.ask(ELSEWHERE, conversation=chat)
        stored = await crossroads.get_conversation(chat)
    assert first.route.agents and alone.agents != first.route.agents  # alone, the follow-up loses the context
    assert follow.route.agents == first.route.agents and follow.route.stage == "conversation"
    assert "PostgreSQL or in MongoDB" in follow.answer  # the specialists saw the earlier turn
    assert follow.conversation is not None and follow.conversation.included == 1
    assert follow.conversation.conversation_id == chat
    assert first.conversation is not None and first.conversation.exchanges == 0
    assert change.route.agents == ["language"] and "changes topic" in change.route.reason
    assert stored is not None and [t.role for t in stored.turns] == ["user", "assistant"] * 3
    assert [t.trace_id for t in stored.turns[::2]] == [first.trace_id, follow.trace_id, change.trace_id]
    assert stored.turns[3].agents == follow.route.agents and stored.turns[3].content == follow.answer


def recording(seen: list[tuple[list[ModelMessage], str | None]]) -> Any:
    """Specialist models that record the history and instructions they were sent."""

    def model_for(self: ModelFactory, name: str) -> FunctionModel:
        def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            seen.append((messages, info.instructions))
            return ModelResponse(parts=[TextPart(f"answer from {name}. " + "More detail. " * 18)])

        return FunctionModel(respond, stream_function=streamed(respond), model_name=f"recording:{name}")

    return model_for


async def test_specialists_receive_the_bounded_history_and_the_summary(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    seen: list[tuple[list[ModelMessage], str | None]] = []
    monkeypatch.setattr(ModelFactory, "specialist", recording(seen))
    settings = load_settings(trace_db="off", conversation={"history_tokens": 110, "summary_tokens": 40})
    async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
        for i in range(4):
            await crossroads.ask(
                f"Question number {i} about Kubernetes autoscaling?", agent="cloud-infra", conversation="k8s"
            )
        result = await crossroads.ask("and the last one?", agent="cloud-infra", conversation="k8s")
    messages, instructions = seen[-1]
    prompts = [
        str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]
    assert prompts[-1].startswith("and the last one?")
    assert prompts[:-1] == ["Question number 3 about Kubernetes autoscaling?"]  # only the newest fits whole
    answers = [p.content for m in messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, TextPart)]
    assert len(answers) == 1 and answers[0].startswith("answer from cloud-infra")
    window = result.conversation
    assert window is not None and (window.exchanges, window.included) == (4, 1)
    assert window.summarised >= 1 and window.summarised + window.dropped == 3
    assert instructions is not None and "Earlier in this conversation" in instructions
    assert "asked: Question number 2" in instructions and window.summary in instructions


async def test_instructions_reach_every_specialist_and_are_stated(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    seen: list[tuple[list[ModelMessage], str | None]] = []
    monkeypatch.setattr(ModelFactory, "specialist", recording(seen))
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        result = await crossroads.ask("How do I autoscale pods?", agent="cloud-infra", instructions="Answer in French.")
    assert seen and all("Answer in French." in (i or "") for _, i in seen)
    assert "Cloud & Infrastructure" in (seen[0][1] or "")  # added to the card's own instructions
    assert result.conversation is not None and result.conversation.instructions


async def test_streamed_follow_up_is_stored_before_done(fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        await crossroads.ask(FIRST, conversation="s-1")
        with anyio.fail_after(30):
            events = [e async for e in crossroads.stream(FOLLOW_UP, conversation="s-1")]
            done = events[-1]
            assert isinstance(done, Done)
            stored = await crossroads.get_conversation("s-1")
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == done.result.answer
    route = events[0]
    assert isinstance(route, RouteDecided) and route.decision.stage == "conversation"
    assert stored is not None and stored.turns[-1].content == done.result.answer


async def test_a_conversation_object_is_history_that_is_not_stored(fake_toolbox: Any) -> None:
    history = Conversation(turns=[Turn(role="user", content=FIRST), Turn(role="assistant", content="It depends.")])
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        first = await crossroads.ask(FIRST)
        result = await crossroads.ask(FOLLOW_UP, conversation=history)
    # who answered the earlier turn is not in caller history: its question is routed again
    assert result.route.stage == "conversation" and result.route.agents == first.route.agents
    assert result.conversation is not None and result.conversation.conversation_id is None
    assert len(history.turns) == 2


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "-leading", "a/b"])
async def test_unusable_conversation_ids_are_input_errors(bad: str, fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox) as crossroads:
        with pytest.raises(InputError, match="conversation id"):
            await crossroads.ask("How do I autoscale pods?", conversation=bad)


async def test_a_full_conversation_is_refused(fake_toolbox: Any) -> None:
    settings = load_settings(trace_db="off", conversation={"max_turns": 4})
    async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
        for _ in range(2):
            await crossroads.ask("How do I autoscale pods?", agent="cloud-infra", conversation="full")
        with pytest.raises(InputError, match="conversation.max_turns"):
            await crossroads.ask("How do I autoscale pods?", agent="cloud-infra", conversation="full")


@pytest.fixture(params=["sqlite", "postgresql"])
def trace_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "traces.db")
    return str(request.getfixturevalue("postgres_url"))


async def test_a_stored_conversation_continues_in_another_orchestrator(trace_db: str, fake_toolbox: Any) -> None:
    settings = load_settings(trace_db=trace_db)
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as crossroads:
        first = await crossroads.ask(FIRST, conversation="team-db")
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as later:  # e.g. another replica
        follow = await later.ask(FOLLOW_UP, conversation="team-db")
        stored = await later.get_conversation("team-db")
        assert later.trace_store is not None
        await later.trace_store.aflush()
        trace = await later.trace_store.aget(follow.trace_id)
    assert follow.route.agents == first.route.agents and follow.route.stage == "conversation"
    assert stored is not None and len(stored.turns) == 4
    assert trace is not None and trace.conversation is not None and trace.conversation.included == 1
