"""What every trace store is: non-blocking batched writes, commit waits, versioned schema, filtered reads.

The orchestrator calls `submit(result)` on the event loop for every ask, so a submit must never wait
for a disk or a database: it only puts the result on a queue. One writer thread per store drains the
queue in batches (one transaction per batch, so throughput grows with load instead of paying one
commit per ask) and serialises the results there, off the event loop. Callers that must know a trace
is durable wait for it: `flush()`/`aflush()` for everything submitted so far, `wait_committed(id)` for
one trace (the server holds a reply back with it, so a replica killed after answering has lost nothing
it answered).

Backends (`sqlite.py`, `postgres.py`) provide the connection handling, the SQL of one batch write and
the reads; schema changes are numbered `Migration`s per backend, applied at open and recorded in a
`schema_version` table (migration 2 added conversations).

Conversations (`crossroads.conversation`) live in the same database, because a follow-up must find
the turns of its conversation whichever replica answers it. Unlike traces they are written at once,
not queued: `append_turns` returns when the turns are committed, so the next question of the
conversation (maybe on another replica, a moment later) reads them.
"""

from __future__ import annotations

import abc
import asyncio
import json
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import structlog
from pydantic import BaseModel

from crossroads.conversation import Conversation, Turn
from crossroads.errors import ConfigError
from crossroads.result import AskResult
from crossroads.storage.bounds import bounded_json

log = structlog.get_logger("crossroads.store")

DEFAULT_MAX_BYTES = 1_000_000
"""Default bound of one stored trace (`trace_max_bytes`): typical traces are 5-50 KB."""
DEFAULT_MAX_QUEUED = 50_000
"""Results held in memory while the database is unreachable; beyond that new ones are dropped (logged)."""
_BATCH = 256
_STOP = object()


class TraceStoreError(ConfigError):
    """The trace store cannot be opened or read: a corrupt file, an unreachable server, a newer schema.

    A `ConfigError`, so the CLI turns it into a one-line message and exit code 2: retrying the same
    command will not help until the file, the URL or the server is fixed.
    """


class TraceSummary(BaseModel):
    """One row of `crossroads traces`: enough to pick a trace without loading it."""

    trace_id: str
    started_at: datetime
    status: str
    """Any status the orchestrator records: ok, out_of_scope, error, cancelled, ... (not an enum on disk)."""
    route: list[str]
    stage: str
    question: str
    duration_ms: float
    requests: int
    input_tokens: int
    output_tokens: int
    error: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Migration:
    """One numbered schema change of a backend; `statements` run in one transaction, in order."""

    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class TraceRow:
    """A result flattened for storage: the summary columns plus the bounded JSON of the whole result."""

    trace_id: str
    started_at: datetime
    status: str
    route: list[str]
    stage: str
    question: str
    duration_ms: float
    requests: int
    input_tokens: int
    output_tokens: int
    error: str | None
    data: str
    truncated: bool


def encode(result: AskResult, max_bytes: int) -> TraceRow:
    """Flatten one result; with `max_bytes` > 0 the stored JSON (and so the columns) stays within it.

    The columns of a truncated result are read back from its (cut) JSON as plain data, so they agree
    with what is stored whatever the status (the schema accepts any status string).
    """
    data, truncated = bounded_json(result, max_bytes)
    started = result.started_at if result.started_at.tzinfo else result.started_at.replace(tzinfo=UTC)
    u = result.usage
    question, error = result.question, result.error
    if truncated:
        cut = json.loads(data)
        question, error = cut.get("question", ""), cut.get("error")
    return TraceRow(
        trace_id=result.trace_id,
        started_at=started.astimezone(UTC),
        status=str(result.status),
        route=result.route.agents,
        stage=result.route.stage,
        question=question,
        duration_ms=result.duration_ms,
        requests=u.requests,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        error=error,
        data=data,
        truncated=truncated,
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """A filter bound in UTC; a naive datetime is taken to be UTC already (stored times are UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def summary_filters(
    *,
    status: str | None,
    agent: str | None,
    since: datetime | None,
    until: datetime | None,
    mark: str,
    agent_clause: str,
    agent_value: Callable[[str], object],
    moment: Callable[[datetime], object],
) -> tuple[str, list[object]]:
    """The ` WHERE ...` clause (empty without filters) and its parameters of `TraceStore.recent`.

    One place for what the filters mean in every backend: `status` exactly, `agent` anywhere in the route
    (the backend's `agent_clause`, with `mark` as its placeholder), `since` inclusive and `until`
    exclusive, both compared in UTC (`moment` turns them into the backend's column values).
    """
    where: list[str] = []
    params: list[object] = []
    if status is not None:
        where.append(f"status = {mark}")
        params.append(status)
    if agent is not None:
        where.append(agent_clause)
        params.append(agent_value(agent))
    if (lower := as_utc(since)) is not None:
        where.append(f"started_at >= {mark}")
        params.append(moment(lower))
    if (upper := as_utc(until)) is not None:
        where.append(f"started_at < {mark}")
        params.append(moment(upper))
    return (" WHERE " + " AND ".join(where) if where else ""), params


def escape_like(text: str) -> str:
    r"""`text` as a literal LIKE pattern (for `... LIKE ? ESCAPE '\'`): wildcards match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


MIN_PREFIX = 6
"""A trace id prefix shorter than this is not looked up (too likely to be ambiguous)."""


class TraceStore(abc.ABC):
    """A store of ask results, safe to use from any thread and any event loop.

    Writing: `submit` (never blocks), `flush`/`aflush` (wait until everything submitted before the call
    is committed), `wait_committed(trace_id)` (one trace), `close`/`aclose` (flush, then stop).
    Reading (sync; `aget`/`arecent`/`acount` run them on a worker thread): `get`, `recent`, `count`.
    A write that fails after the backend's retries is logged and counted in `dropped`; the service
    keeps answering (a trace store outage must not become a service outage).
    """

    backend: ClassVar[str]

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.max_bytes = max_bytes
        self.dropped = 0
        """Results that were not stored: write failures after retries, or the queue was full."""
        self.truncated = 0
        """Results stored truncated to `max_bytes`."""
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._submitted = 0
        self._finished = 0
        self._waiters: dict[str, list[Callable[[], None]]] = {}
        self._closed = False
        self._writer: threading.Thread | None = None

    # -- what a backend provides ------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the traces are, for messages and `/readyz` (a path, or a URL without its password)."""

    @abc.abstractmethod
    def _write(self, rows: Sequence[TraceRow]) -> None:
        """Commit `rows` (idempotently: trace_id is the key), retrying what is worth retrying; may raise."""

    @abc.abstractmethod
    def _close_backend(self) -> None:
        """Release connections once the writer has stopped."""

    @abc.abstractmethod
    def get(self, trace_id: str) -> AskResult | None:
        """The trace with this id, or the only one whose id starts with it (at least `MIN_PREFIX` chars)."""

    @abc.abstractmethod
    def recent(
        self,
        last: int = 20,
        *,
        status: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[TraceSummary]:
        """The `last` most recent traces, newest first, optionally filtered.

        `status` matches exactly; `agent` keeps traces whose route contains that agent; `since` is
        inclusive and `until` exclusive (naive datetimes are UTC).
        """

    @abc.abstractmethod
    def count(self) -> int:
        """How many traces are stored."""

    @abc.abstractmethod
    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id and its turns, oldest first; None when there is none."""

    @abc.abstractmethod
    def append_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        """Append `turns` to the conversation (created on first use), committed when this returns."""

    # -- writing ----------------------------------------------------------------------------------

    def submit(self, result: AskResult) -> None:
        """Queue one result for writing and return at once.

        The result is serialised later on the writer thread, so it must not be changed after this
        call. Results submitted after `close`, or while `max_queued` results already wait (the
        database has been unreachable for a while), are dropped with an error log.
        """
        with self._lock:
            if self._closed:
                log.warning("trace store closed; trace dropped", trace_id=result.trace_id)
                return
            try:
                self._queue.put_nowait(result)
            except queue.Full:
                self.dropped += 1
                log.error("trace store queue full; trace dropped", trace_id=result.trace_id, store=self.location)
                return
            self._submitted += 1
            self._waiters.setdefault(result.trace_id, [])
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name=f"crossroads-trace-writer-{self.backend}", daemon=True
                )
                self._writer.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything submitted before this call is committed (or dropped); False on timeout."""
        with self._done:
            target = self._submitted
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.flush, timeout)

    async def wait_committed(self, trace_id: str, timeout: float = 10.0) -> bool:
        """Wait until the submitted trace `trace_id` is committed (or dropped); True unless timed out.

        A trace id that is not pending (already committed, or never submitted) returns at once.
        """
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        with self._lock:
            waiters = self._waiters.get(trace_id)
            if waiters is None:
                return True
            waiters.append(wake)
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Commit what is queued, stop the writer and release connections. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
            if writer is not None:
                self._queue.put(_STOP)
        if writer is not None:
            writer.join()
        self._close_backend()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            results = [item for item in batch if isinstance(item, AskResult)]
            try:
                self._write_batch(results)
            finally:
                self._settle(results)
            if len(results) != len(batch):
                return

    def _write_batch(self, results: list[AskResult]) -> None:
        rows: dict[str, TraceRow] = {}
        for result in results:
            try:
                row = encode(result, self.max_bytes)
            except Exception as exc:  # one unserialisable result must not cost the rest of the batch
                self.dropped += 1
                log.error("trace not serialisable; dropped", trace_id=result.trace_id, error=str(exc))
                continue
            if row.truncated:
                self.truncated += 1
                log.warning("trace truncated to trace_max_bytes", trace_id=row.trace_id, max_bytes=self.max_bytes)
            rows[row.trace_id] = row  # the same id twice in one batch: the later one wins, as on conflict
        if not rows:
            return
        try:
            self._write(list(rows.values()))
        except Exception as exc:  # a full disk or a lost database must not take the service down
            self.dropped += len(rows)
            log.error("trace store write failed; traces dropped", error=str(exc), rows=len(rows), store=self.location)

    def _settle(self, results: list[AskResult]) -> None:
        wakers: list[Callable[[], None]] = []
        with self._done:
            for result in results:
                wakers += self._waiters.pop(result.trace_id, [])
            self._finished += len(results)
            self._done.notify_all()
        for wake in wakers:
            try:
                wake()
            except RuntimeError:  # the waiting loop has closed meanwhile
                pass

    # -- async reads ------------------------------------------------------------------------------

    async def aget(self, trace_id: str) -> AskResult | None:
        return await asyncio.to_thread(self.get, trace_id)

    async def arecent(
        self,
        last: int = 20,
        *,
        status: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[TraceSummary]:
        return await asyncio.to_thread(lambda: self.recent(last, status=status, agent=agent, since=since, until=until))

    async def acount(self) -> int:
        return await asyncio.to_thread(self.count)

    async def aget_conversation(self, conversation_id: str) -> Conversation | None:
        return await asyncio.to_thread(self.get_conversation, conversation_id)

    async def aappend_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        await asyncio.to_thread(self.append_turns, conversation_id, list(turns))

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def backoff(attempt: int, cap: float = 2.0) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...) of a failed write: 0.1 s doubling up to `cap`."""
    return min(cap, 0.1 * 2 ** (attempt - 1))
