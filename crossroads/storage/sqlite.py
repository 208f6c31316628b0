"""The SQLite trace store: the default, embedded, one file on this machine.

SQLite runs in WAL mode with a busy timeout, so readers (the CLI, `GET /v1/traces/{id}`) never wait for
the writer and the worker processes of one `crossroads serve --workers N` can share the file. Each
read opens (and closes) its own connection: reads come from many threads and a connection is cheap.

A file that is not a SQLite database, or whose pages are damaged, is reported as a `TraceStoreError`
naming the file (the CLI exits 2 with it; `crossroads serve` refuses to start), never as a traceback.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import structlog

from crossroads.conversation import Conversation, Turn
from crossroads.result import AskResult
from crossroads.storage.base import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_QUEUED,
    MIN_PREFIX,
    Migration,
    TraceRow,
    TraceStore,
    TraceStoreError,
    TraceSummary,
    escape_like,
    summary_filters,
)

log = structlog.get_logger("crossroads.store")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "traces",
        (
            # Exactly the table of the unversioned store this replaces, so an existing file is adopted as is.
            """CREATE TABLE IF NOT EXISTS traces (
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
            )""",
            "CREATE INDEX IF NOT EXISTS traces_started_at ON traces (started_at)",
            "CREATE INDEX IF NOT EXISTS traces_status_started_at ON traces (status, started_at)",
        ),
    ),
    Migration(
        2,
        "conversations",
        (
            """CREATE TABLE conversations (
                conversation_id TEXT PRIMARY KEY,
                created_at      TEXT NOT NULL,
                updated_at      TEXT NOT NULL
            )""",
            """CREATE TABLE conversation_turns (
                conversation_id TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
                position        INTEGER NOT NULL,
                role            TEXT NOT NULL,
                content         TEXT NOT NULL,
                trace_id        TEXT,
                agents          TEXT NOT NULL,
                created_at      TEXT NOT NULL,
                PRIMARY KEY (conversation_id, position)
            )""",
            "CREATE INDEX conversations_updated_at ON conversations (updated_at)",
        ),
    ),
)
"""Schema changes, oldest first. Add one with the next version number; never edit an applied one."""

_INSERT = "INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SUMMARY = (
    "SELECT trace_id, started_at, status, route, stage, question, duration_ms, requests,"
    " input_tokens, output_tokens, error FROM traces"
)


def iso(moment: datetime) -> str:
    """The stored form of a time: UTC, always with microseconds, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class SQLiteTraceStore(TraceStore):
    """Traces in one SQLite file (WAL). Thread-safe; `submit` may be called from any thread or loop."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path | str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_queued: int = DEFAULT_MAX_QUEUED,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        super().__init__(max_bytes=max_bytes, max_queued=max_queued)
        self.path = Path(path).expanduser()
        self._write_conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as conn:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._migrate(conn, migrations)
        except OSError as exc:
            raise TraceStoreError(f"cannot open the trace store {self.path}: {exc.strerror or exc}") from None
        if str(mode).lower() != "wal":
            log.warning("trace store is not in WAL mode", path=str(self.path), mode=mode)

    @property
    def location(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; SQLite errors become a `TraceStoreError` that names the file."""
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        finally:
            if conn is not None:
                conn.close()

    def _error(self, exc: sqlite3.Error) -> TraceStoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and any(
            s in text for s in ("not a database", "malformed", "corrupt", "disk image")
        ):
            return TraceStoreError(
                f"the trace store {self.path} is corrupt or not a SQLite database ({text});"
                " move the file aside (a new one is created) or point trace_db elsewhere"
            )
        return TraceStoreError(f"the trace store {self.path} cannot be used: {text}")

    def _migrate(self, conn: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
        """Apply the migrations this file lacks, in one write transaction (so two processes never race).

        A file already at the latest version is only read: the CLI can list traces from a file it may
        not write, and opening never waits for another process's write lock.
        """
        latest = max((m.version for m in migrations), default=0)
        if _version(conn) == latest:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            if current > latest:
                raise TraceStoreError(
                    f"the trace store {self.path} has schema version {current}, newer than this crossroads"
                    f" knows ({latest}): upgrade crossroads or use another trace_db"
                )
            for migration in sorted(migrations, key=lambda m: m.version):
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    (migration.version, migration.name, iso(datetime.now(UTC))),
                )
                log.info("trace store migrated", path=str(self.path), version=migration.version, name=migration.name)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])

    def journal_mode(self) -> str:
        with self._connection() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- writing (on the writer thread) -----------------------------------------------------------

    def _write(self, rows: Sequence[TraceRow]) -> None:
        if self._write_conn is None:
            self._write_conn = self._connect()
        conn = self._write_conn
        params = [_params(r) for r in rows]
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, params)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error(exc) from None

    def _close_backend(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    # -- reading ----------------------------------------------------------------------------------

    def get(self, trace_id: str) -> AskResult | None:
        with self._connection() as conn:
            row = conn.execute("SELECT data FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
            if row is None and len(trace_id) >= MIN_PREFIX:
                # LIKE with every wildcard escaped; substr keeps the match case-sensitive, as in PostgreSQL.
                rows = conn.execute(
                    "SELECT data FROM traces WHERE trace_id LIKE ? ESCAPE '\\' AND substr(trace_id, 1, ?) = ? LIMIT 2",
                    (escape_like(trace_id) + "%", len(trace_id), trace_id),
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
        clause, params = summary_filters(
            status=status,
            agent=agent,
            since=since,
            until=until,
            mark="?",
            agent_clause="EXISTS (SELECT 1 FROM json_each(traces.route) WHERE json_each.value = ?)",
            agent_value=str,
            moment=iso,
        )
        sql = _SUMMARY + clause + " ORDER BY started_at DESC LIMIT ?"
        with self._connection() as conn:
            rows = conn.execute(sql, (*params, max(0, last))).fetchall()
        keys = list(TraceSummary.model_fields)
        return [
            TraceSummary.model_validate({**dict(zip(keys, r, strict=True)), "route": json.loads(r[3])}) for r in rows
        ]

    def count(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])

    # -- conversations ----------------------------------------------------------------------------

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        with self._connection() as conn:
            head = conn.execute(
                "SELECT created_at, updated_at FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if head is None:
                return None
            rows = conn.execute(
                "SELECT role, content, trace_id, agents, created_at FROM conversation_turns"
                " WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        turns = [Turn(role=r[0], content=r[1], trace_id=r[2], agents=json.loads(r[3]), at=r[4]) for r in rows]
        return Conversation(id=conversation_id, created_at=head[0], updated_at=head[1], turns=turns)

    def append_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        now = iso(datetime.now(UTC))
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")  # positions are read and written under the write lock
            try:
                conn.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?)"
                    " ON CONFLICT (conversation_id) DO UPDATE SET updated_at = excluded.updated_at",
                    (conversation_id, now, now),
                )
                start = conn.execute(
                    "SELECT coalesce(max(position), 0) FROM conversation_turns WHERE conversation_id = ?",
                    (conversation_id,),
                ).fetchone()[0]
                conn.executemany(
                    "INSERT INTO conversation_turns VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (conversation_id, start + i, t.role, t.content, t.trace_id, json.dumps(t.agents), iso(t.at))
                        for i, t in enumerate(turns, 1)
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise


def _version(conn: sqlite3.Connection) -> int | None:
    """The recorded schema version, None for a file without a `schema_version` table."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return None
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def _params(row: TraceRow) -> tuple[object, ...]:
    return (
        row.trace_id,
        iso(row.started_at),
        row.status,
        json.dumps(row.route),
        row.stage,
        row.question,
        row.duration_ms,
        row.requests,
        row.input_tokens,
        row.output_tokens,
        row.error,
        row.data,
    )
