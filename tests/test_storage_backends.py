"""Both trace stores, the same tests: round trip, filters, escaped prefixes, idempotent writes, no lost
writes under concurrency, bounded rows, migrations, commit waits. PostgreSQL runs for real (see
storage_support.py); each test gets a fresh database."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from real_parts import missing
from storage_support import postgres_server, postgres_url  # noqa: F401  (fixtures)

from crossroads.config import load_settings
from crossroads.conversation import Turn
from crossroads.errors import LimitExceeded
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, RouteDecision, RouteTarget, SpecialistAnswer, ToolCallRecord
from crossroads.storage import Migration, TraceStore, TraceStoreError, open_store
from crossroads.storage.bounds import MARKER

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "traces.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(target: str) -> Iterator[TraceStore]:
    s = open_store(target)
    try:
        yield s
    finally:
        s.close()


def _result(
    trace_id: str | None = None,
    *,
    agents: tuple[str, ...] = ("core-dev",),
    status: str = "ok",
    started: datetime | None = None,
    answer: str = "an answer",
    question: str = "a question",
) -> AskResult:
    result = AskResult(
        trace_id=trace_id or uuid.uuid4().hex,
        question=question,
        answer=answer,
        route=RouteDecision(targets=[RouteTarget(agent=a, confidence=0.9, sub_question="q") for a in agents]),
        started_at=started or datetime.now(UTC),
    )
    result.status = status  # type: ignore[assignment]  (the store takes any status string, e.g. "cancelled")
    return result


def test_round_trip_summary_and_unique_prefix(store: TraceStore) -> None:
    a, b = _result("abcdef0123456789", agents=("data-ai", "cloud-infra")), _result("abcdff0123456789")
    store.submit(a)
    store.submit(b)
    assert store.flush(10)
    got = store.get("abcdef0123456789")
    assert got is not None and got.answer == "an answer" and got.route.agents == ["data-ai", "cloud-infra"]
    assert store.get("abcdef")  # unique prefix of 6
    assert store.get("abcd") is None  # too short to be looked up
    assert store.get("abcdf0") is None and store.get("ABCDEF") is None  # no match; case-sensitive in both
    assert store.count() == 2
    [first, second] = store.recent(5)
    assert first.trace_id == b.trace_id and second.route == ["data-ai", "cloud-infra"]
    assert second.started_at.tzinfo is not None


def test_like_wildcards_in_a_prefix_are_literal(store: TraceStore) -> None:
    store.submit(_result("0123456789abcdef"))
    weird = _result("ab%_cd\\ef-0001")
    store.submit(weird)
    assert store.flush(10)
    for pattern in ("%%%%%%", "______", "%%%", "0%%%%%", "01234_", "%", "\\\\\\\\\\\\"):
        assert store.get(pattern) is None, pattern
    found = store.get("ab%_cd\\e")  # the wildcard characters match only themselves
    assert found is not None and found.trace_id == weird.trace_id
    assert store.get("ab%_cX") is None


def test_any_status_string_is_stored_and_filtered(store: TraceStore) -> None:
    for status in ("ok", "error", "cancelled", "out_of_scope", "cancelled"):
        store.submit(_result(status=status))
    assert store.flush(10)
    assert len(store.recent(10, status="cancelled")) == 2
    assert {r.status for r in store.recent(10)} == {"ok", "error", "cancelled", "out_of_scope"}
    assert store.recent(10, status="nope") == []


def test_recent_filters_by_agent_and_time(store: TraceStore) -> None:
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    rows = [
        _result(agents=("data-ai",), started=t0),
        _result(agents=("cloud-infra", "data-ai"), started=t0 + timedelta(hours=1)),
        _result(agents=("core-dev",), started=t0 + timedelta(hours=2), status="error"),
        _result(agents=("data-ai-extra",), started=t0 + timedelta(hours=3)),  # not "data-ai"
    ]
    for r in rows:
        store.submit(r)
    assert store.flush(10)
    ids = [r.trace_id for r in rows]
    assert [s.trace_id for s in store.recent(10)] == ids[::-1]
    assert [s.trace_id for s in store.recent(10, agent="data-ai")] == [ids[1], ids[0]]
    assert [s.trace_id for s in store.recent(10, since=t0 + timedelta(hours=1))] == ids[:0:-1]
    assert [s.trace_id for s in store.recent(10, until=t0 + timedelta(hours=1))] == [ids[0]]
    naive = datetime(2026, 3, 1, 13, 0)  # naive bounds are UTC
    assert [s.trace_id for s in store.recent(10, since=naive, until=naive + timedelta(hours=1))] == [ids[1]]
    assert [s.trace_id for s in store.recent(10, agent="core-dev", status="error")] == [ids[2]]
    assert [s.trace_id for s in store.recent(1)] == [ids[3]]


def test_same_trace_twice_is_stored_once_last_wins(store: TraceStore) -> None:
    first = _result("feedfacecafe0001", status="error")
    store.submit(first)
    assert store.flush(10)
    again = first.model_copy(update={"answer": "second", "status": "cancelled"})
    store.submit(again)
    store.submit(again)  # twice in one batch too
    assert store.flush(10)
    assert store.count() == 1
    got = store.get("feedfacecafe0001")
    assert got is not None and got.answer == "second" and got.status == "cancelled"
    assert store.recent(1)[0].status == "cancelled"


def test_concurrent_writers_from_many_threads_lose_nothing(target: str) -> None:
    store = open_store(target)
    ids = [[uuid.uuid4().hex for _ in range(50)] for _ in range(8)]
    threads = [threading.Thread(target=lambda chunk=chunk: [store.submit(_result(i)) for i in chunk]) for chunk in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()  # commits what is queued
    reopened = open_store(target)
    try:
        assert reopened.count() == 400 and reopened.dropped == 0
        assert {s.trace_id for s in reopened.recent(1000)} == {i for chunk in ids for i in chunk}
    finally:
        reopened.close()


def test_two_stores_on_one_database_store_each_trace_once(target: str) -> None:
    """Two replicas: two stores (own pools and writers) on one database, writing at once."""
    one, two = open_store(target), open_store(target)
    shared = [_result() for _ in range(100)]
    try:
        for r in shared:
            one.submit(r)
            two.submit(r)  # the same trace from both (a retried request): still one row
        for _ in range(150):
            one.submit(_result())
            two.submit(_result())
        assert one.flush(30) and two.flush(30)
        assert one.count() == 400 and two.count() == 400
    finally:
        one.close()
        two.close()


@pytest.mark.anyio
async def test_wait_committed_and_aflush(store: TraceStore) -> None:
    r = _result()
    store.submit(r)
    assert await store.wait_committed(r.trace_id, timeout=10)
    assert store.get(r.trace_id) is not None  # committed: a fresh reader sees it
    assert await store.wait_committed("never-submitted", timeout=0.01)
    for _ in range(20):
        store.submit(_result())
    assert await store.aflush(10)
    assert await store.acount() == 21
    assert len(await store.arecent(5, agent="core-dev")) == 5
    assert (await store.aget(r.trace_id)) is not None


def test_a_huge_answer_is_bounded_with_a_marker(target: str) -> None:
    big = "x" * 5_000_000
    r = _result(answer=big)
    r.specialists = [SpecialistAnswer(agent="core-dev", question="q", answer=big, path=["router", "core-dev"])]
    r.tool_calls = [ToolCallRecord(agent="core-dev", name="run_python", arguments={"code": "print(1)"}, result=big)]
    store = open_store(target, max_bytes=200_000)
    try:
        store.submit(r)
        store.submit(_result(answer="small"))
        assert store.flush(30)
        got = store.get(r.trace_id)
        assert got is not None and store.truncated == 1
        assert len(got.model_dump_json().encode()) <= 200_000
        assert got.answer.startswith("xxx") and "truncated by crossroads" in got.answer
        assert MARKER.split("{")[0] in got.specialists[0].answer and "truncated" in str(got.tool_calls[0].result)
        assert got.route.agents == ["core-dev"] and got.tool_calls[0].arguments == {"code": "print(1)"}
        assert store.recent(5)[0].question == "a question"
    finally:
        store.close()


def test_nul_characters_are_stored(store: TraceStore) -> None:
    r = _result(question="what is \x00 here?", answer="a \x00 b")
    store.submit(r)
    assert store.flush(10) and store.dropped == 0
    got = store.get(r.trace_id)
    assert got is not None and got.answer == "a \x00 b"  # the JSON keeps it exactly
    assert store.recent(1)[0].question.startswith("what is ")


def _latest(store: TraceStore) -> int:
    base: tuple[Migration, ...] = type(store).__init__.__kwdefaults__["migrations"]  # type: ignore[index]
    return max(m.version for m in base)


def test_schema_is_versioned_and_a_later_migration_applies_once(target: str) -> None:
    store = open_store(target)
    latest = _latest(store)
    assert latest >= 2 and store.schema_version() == latest  # type: ignore[attr-defined]  (2: conversations)
    store.close()
    backend = type(store)
    base: tuple[Migration, ...] = backend.__init__.__kwdefaults__["migrations"]  # type: ignore[index]
    table = "CREATE TABLE bookmarks (id TEXT PRIMARY KEY, title TEXT NOT NULL)"
    later = (*base, Migration(latest + 1, "bookmarks", (table,)))
    for _ in range(2):  # the second open must not re-run the new migration (it would fail: the table exists)
        s = backend(target, migrations=later)  # type: ignore[call-arg]
        assert s.schema_version() == latest + 1  # type: ignore[attr-defined]
        s.close()
    with pytest.raises(TraceStoreError, match=f"schema version {latest + 1}, newer than this crossroads knows"):
        open_store(target)


def test_a_store_at_version_1_gains_conversations_and_keeps_its_traces(target: str) -> None:
    if target.startswith("postgresql://"):
        from crossroads.storage.postgres import PostgresTraceStore as backend
    else:
        from crossroads.storage.sqlite import SQLiteTraceStore as backend
    base: tuple[Migration, ...] = backend.__init__.__kwdefaults__["migrations"]  # type: ignore[index]
    old = backend(target, migrations=base[:1])  # a store from before conversations
    kept = _result()
    old.submit(kept)
    assert old.flush(10)
    old.close()
    store = open_store(target)
    try:
        assert store.schema_version() == _latest(store)  # type: ignore[attr-defined]
        assert store.get(kept.trace_id) is not None
        assert store.get_conversation("c-1") is None
        store.append_turns("c-1", [Turn(role="user", content="hi")])
        got = store.get_conversation("c-1")
        assert got is not None and [t.content for t in got.turns] == ["hi"]
    finally:
        store.close()


def test_conversation_turns_round_trip_in_order(store: TraceStore) -> None:
    assert store.get_conversation("chat-1") is None
    first = [
        Turn(role="user", content="Postgres or Mongo?", trace_id="t1", agents=["data-ai"]),
        Turn(role="assistant", content="It depends \x00 on joins.", trace_id="t1", agents=["data-ai"]),
    ]
    store.append_turns("chat-1", first)
    store.append_turns("chat-1", [Turn(role="user", content="which of the two?", trace_id="t2", agents=[])])
    store.append_turns("chat-2", [Turn(role="user", content="other", trace_id="t3")])
    got = store.get_conversation("chat-1")
    assert got is not None and got.id == "chat-1"
    assert [(t.role, t.trace_id) for t in got.turns] == [("user", "t1"), ("assistant", "t1"), ("user", "t2")]
    assert got.turns[0].agents == ["data-ai"] and got.turns[0].at.tzinfo is not None
    assert got.turns[1].content.startswith("It depends")
    assert got.updated_at >= got.created_at
    other = store.get_conversation("chat-2")
    assert other is not None and len(other.turns) == 1
    assert store.count() == 0  # conversations are not traces


def test_concurrent_appends_to_one_conversation_lose_nothing(store: TraceStore) -> None:
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(10):
                store.append_turns("busy", [Turn(role="user", content=f"{n}-{i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = store.get_conversation("busy")
    assert got is not None and len(got.turns) == 40 and len({t.content for t in got.turns}) == 40


def test_replicas_starting_together_migrate_once(target: str) -> None:
    stores: list[TraceStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(open_store(target))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors and len(stores) == 4
        assert {s.schema_version() for s in stores} == {_latest(stores[0])}  # type: ignore[attr-defined]
    finally:
        for s in stores:
            s.close()


@pytest.mark.anyio
async def test_200_concurrent_asks_are_all_stored(target: str, fake_toolbox: Any) -> None:
    settings = load_settings(trace_db=target)
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as orch:
        results = await asyncio.gather(
            *(orch.ask(f"How do I profile a slow Python loop, case {i}?") for i in range(200))
        )
    check = open_store(target)
    try:
        assert check.count() == 200
        assert {r.trace_id for r in results} == {s.trace_id for s in check.recent(500)}
    finally:
        check.close()


@pytest.mark.anyio
async def test_failed_ask_is_stored_with_error_status(target: str, fake_toolbox: Any) -> None:
    settings = load_settings(trace_db=target, timeout=1e-6)
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as orch:
        with pytest.raises(LimitExceeded) as info:
            await orch.ask("How do I profile a slow Python loop?")
    check = open_store(target)
    try:
        partial = info.value.partial
        assert partial is not None
        stored = check.get(partial.trace_id)
        assert stored is not None and stored.status == "error" and "timeout" in (stored.error or "")
        assert [s.status for s in check.recent(5, status="error")] == ["error"]
    finally:
        check.close()


@pytest.mark.anyio
async def test_library_default_stores_nothing_and_off_disables(tmp_path: Path, fake_toolbox: Any) -> None:
    async with Orchestrator(load_settings(trace_db=str(tmp_path / "t.db")), toolbox=fake_toolbox) as orch:
        assert orch.trace_store is None
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox, trace_store=True) as orch:
        assert orch.trace_store is None


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    from crossroads.testing.services import free_port

    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(TraceStoreError) as info:
        open_store(url)
    message = str(info.value)
    assert "cannot open the trace store postgresql://someone:***@127.0.0.1" in message
    assert "s3cret-pw" not in message


def test_unknown_scheme_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TraceStoreError, match="unknown scheme 'mysql://'"):
        open_store("mysql://localhost/x")
    s = open_store(f"sqlite://{tmp_path / 'via-url.db'}")
    try:
        assert (tmp_path / "via-url.db").exists()
    finally:
        s.close()


def test_the_legacy_store_module_still_works(tmp_path: Path) -> None:
    from crossroads.store import TraceStore as LegacyTraceStore

    s: Callable[..., TraceStore] = LegacyTraceStore
    store = s(tmp_path / "legacy.db")
    try:
        store.submit(_result("1234567890abcdef"))
        assert store.flush(10) and store.get("123456") is not None
    finally:
        store.close()


def test_a_postgres_outage_while_serving_loses_no_trace(tmp_path: Path) -> None:
    """The database goes away mid-stream and comes back: queued batches are retried, each stored once."""
    from crossroads.testing.services import ServiceUnavailable, restart_postgres, start_postgres, stop_service

    try:
        service = start_postgres(tmp_path / "pg", durable=True)  # its own, durable: this test crashes it
    except (ServiceUnavailable, OSError) as exc:
        missing(f"cannot start a PostgreSQL of its own: {exc}")
    store = open_store(service.url)
    try:
        before = [_result() for _ in range(20)]
        for r in before:
            store.submit(r)
        assert store.flush(10)
        stop_service("postgres", service.directory)
        during = [_result() for _ in range(30)]
        for r in during:
            store.submit(r)
        assert not store.flush(1.0)  # nothing can commit now: the writer is retrying
        restart_postgres(service.directory)
        assert store.flush(30)
        assert store.dropped == 0 and store.count() == 50
        assert {s.trace_id for s in store.recent(100)} == {r.trace_id for r in before + during}
    finally:
        store.close()
        service.stop()
