"""The trace store: every ask's `AskResult` (answer plus full trace) persisted in SQLite.

Writes never block the event loop: `submit` puts the result on a queue and one writer thread commits
batches. SQLite runs in WAL mode with a busy timeout, so readers (the CLI, `GET /v1/traces/{id}`) never
wait for the writer and several server worker processes can share one file. `flush` waits until every
submitted result is committed, which is what tests, benchmarks and shutdown need.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import structlog
from pydantic import BaseModel

from crossroads.errors import ConfigError
from crossroads.result import AskResult

log = structlog.get_logger("crossroads.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id      TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    status        TEXT NOT NULL,
    route         TEXT NOT NULL,
    stage         TEXT NOT NULL,
    question      TEXT NOT NULL,
    duration_ms   REAL NOT NULL,
    requests      INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    error         TEXT,
    data          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_started_at ON traces (started_at);
"""
_INSERT = "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_BATCH = 256
_STOP = object()


class TraceSummary(BaseModel):
    """One row of `crossroads traces`: enough to pick a trace without loading it."""

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
    error: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class TraceStore:
    """SQLite store of ask results. Thread-safe; `submit` may be called from any thread or event loop."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the trace store {self.path}: {exc}") from None
        if str(mode).lower() != "wal":
            log.warning("trace store is not in WAL mode", path=str(self.path), mode=mode)
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_loop, name="crossroads-trace-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    # -- writing ----------------------------------------------------------------------------------

    def submit(self, result: AskResult) -> None:
        """Queue one result for writing; returns at once. Results submitted after `close` are dropped."""
        with self._lock:
            if self._closed:
                log.warning("trace store closed; trace dropped", trace_id=result.trace_id)
                return
            self._queue.put(_row(result))

    def flush(self) -> None:
        """Block until every submitted result is committed."""
        self._queue.join()

    async def aflush(self) -> None:
        await asyncio.to_thread(self.flush)

    def close(self) -> None:
        """Commit what is queued, then stop the writer. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._writer.join()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _write_loop(self) -> None:
        conn = self._connect()
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                rows = [item for item in batch if item is not _STOP]
                try:
                    if rows:
                        with conn:
                            conn.executemany(_INSERT, rows)
                except sqlite3.Error as exc:  # a full disk must not take the service down
                    log.error("trace store write failed", error=str(exc), rows=len(rows))
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if len(rows) != len(batch):
                    return
        finally:
            conn.close()

    # -- reading ----------------------------------------------------------------------------------

    def get(self, trace_id: str) -> AskResult | None:
        """The trace with this id, or with this unique id prefix (at least 6 characters)."""
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
            if row is None and len(trace_id) >= 6:
                rows = conn.execute(
                    "SELECT data FROM traces WHERE trace_id LIKE ? LIMIT 2", (_escape_like(trace_id) + "%",)
                ).fetchall()
                row = rows[0] if len(rows) == 1 else None
        return AskResult.model_validate_json(row[0]) if row else None

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

        Args:
            last: At most this many.
            status: Only traces with this status (`ok`, `out_of_scope`, `error`).
            agent: Only traces whose route contains this agent.
            since: Only traces started at or after this time (naive times are UTC).
            until: Only traces started before this time (naive times are UTC).
        """
        where: list[str] = []
        params: list[object] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if agent is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(traces.route) WHERE json_each.value = ?)")
            params.append(agent)
        if since is not None:
            where.append("julianday(started_at) >= julianday(?)")
            params.append(_utc(since))
        if until is not None:
            where.append("julianday(started_at) < julianday(?)")
            params.append(_utc(until))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT trace_id, started_at, status, route, stage, question, duration_ms, requests,"
                f" input_tokens, output_tokens, error FROM traces{clause} ORDER BY started_at DESC LIMIT ?",
                (*params, max(0, last)),
            ).fetchall()
        keys = list(TraceSummary.model_fields)
        return [
            TraceSummary.model_validate({**dict(zip(keys, r, strict=True)), "route": json.loads(r[3])}) for r in rows
        ]

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])

    def journal_mode(self) -> str:
        with self._connect() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _row(result: AskResult) -> tuple[object, ...]:
    u = result.usage
    return (
        result.trace_id,
        result.started_at.isoformat(),
        result.status,
        json.dumps(result.route.agents),
        result.route.stage,
        result.question,
        result.duration_ms,
        u.requests,
        u.input_tokens,
        u.output_tokens,
        result.error,
        result.model_dump_json(),
    )


def _utc(moment: datetime) -> str:
    """`moment` as an ISO string in UTC, the form `started_at` is stored in (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _escape_like(text: str) -> str:
    return text.replace("\\", "").replace("%", "").replace("_", "")
