"""The PostgreSQL trace store (`trace_db = "postgresql://..."`), shared by every replica of a deployment.

Driver: psycopg 3 with psycopg_pool (extra `crossroads[postgres]`). It was chosen over asyncpg because
the store is used from both sides of the event loop: the CLI (`crossroads traces`) and `ask_sync` have
no loop, the server has one, tests run several. psycopg offers one thread-safe connection pool that
works for all of them; an asyncpg pool is bound to the loop that created it. Nothing here runs on the
event loop: writes go through the writer thread of `TraceStore`, and the async reads (`aget`,
`arecent`, `acount`) run the sync ones on a worker thread. `executemany` sends a batch in pipeline
mode, so a batch of 256 traces costs about one round trip and one commit.

Idempotent writes: `trace_id` is the primary key and inserts are `ON CONFLICT (trace_id) DO UPDATE`,
so a batch retried after a lost connection (maybe committed, maybe not) still leaves every trace
stored exactly once. A lost server is retried with backoff for `RETRY_SECONDS`; results queue up
meanwhile (bounded by `max_queued`). Rows that the server rejects (a data error) are retried one by
one, so one bad row never costs its whole batch.

Migrations take a transaction-level advisory lock, so replicas starting together apply each one once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, LiteralString, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    backoff,
    escape_like,
    summary_filters,
)

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise TraceStoreError(
        "a postgresql:// trace_db needs the postgres extra: pip install 'crossroads[postgres]'"
    ) from exc

log = structlog.get_logger("crossroads.store")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "traces",
        (
            """CREATE TABLE IF NOT EXISTS traces (
                trace_id      text PRIMARY KEY,
                started_at    timestamptz NOT NULL,
                status        text NOT NULL,
                route         jsonb NOT NULL,
                stage         text NOT NULL,
                question      text NOT NULL,
                duration_ms   double precision NOT NULL,
                requests      integer NOT NULL,
                input_tokens  bigint NOT NULL,
                output_tokens bigint NOT NULL,
                error         text,
                data          text NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS traces_started_at ON traces (started_at DESC)",
            "CREATE INDEX IF NOT EXISTS traces_status_started_at ON traces (status, started_at DESC)",
            # The primary key's index serves `=` only; prefix lookups (LIKE 'abc%') need pattern ops.
            "CREATE INDEX IF NOT EXISTS traces_trace_id_prefix ON traces (trace_id text_pattern_ops)",
        ),
    ),
    Migration(
        2,
        "conversations",
        (
            """CREATE TABLE conversations (
                conversation_id text PRIMARY KEY,
                created_at      timestamptz NOT NULL,
                updated_at      timestamptz NOT NULL
            )""",
            """CREATE TABLE conversation_turns (
                conversation_id text NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
                position        integer NOT NULL,
                role            text NOT NULL,
                content         text NOT NULL,
                trace_id        text,
                agents          jsonb NOT NULL,
                created_at      timestamptz NOT NULL,
                PRIMARY KEY (conversation_id, position)
            )""",
            "CREATE INDEX conversations_updated_at ON conversations (updated_at DESC)",
        ),
    ),
)
"""Schema changes, oldest first. Add one with the next version number; never edit an applied one."""

RETRY_SECONDS = 30.0
"""How long a batch is retried while the server is unreachable before it is dropped (logged)."""
CONNECT_TIMEOUT = 5
_LOCK_ID = 0x63726F7373  # "cross": the advisory lock that serialises migrations across replicas
_COLUMNS = (
    "trace_id, started_at, status, route, stage, question, duration_ms, requests, input_tokens, output_tokens, error"
)
_INSERT = cast(
    LiteralString,
    f"INSERT INTO traces ({_COLUMNS}, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (trace_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*_COLUMNS.split(", ")[1:], "data"]),
)


def redact(url: str) -> str:
    """The URL without its password (in the authority or as a `password=` parameter), for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class PostgresTraceStore(TraceStore):
    """Traces in a PostgreSQL database, through a psycopg connection pool. Thread-safe."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_queued: int = DEFAULT_MAX_QUEUED,
        pool_size: int = 4,
        migrations: Sequence[Migration] = MIGRATIONS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(max_bytes=max_bytes, max_queued=max_queued)
        self.url = url
        self.retry_seconds = retry_seconds
        kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "crossroads"}
        try:  # one plain connection first: its error says why (refused, auth, no such database)
            with psycopg.connect(url, **kwargs) as conn:
                self._migrate(conn, migrations)
        except psycopg.Error as exc:
            raise TraceStoreError(f"cannot open the trace store {self.location}: {_reason(exc)}") from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            kwargs={**kwargs, "autocommit": True},
            open=False,
            name="crossroads-traces",
            timeout=CONNECT_TIMEOUT,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout as exc:
            self._pool.close()
            raise TraceStoreError(f"cannot open the trace store {self.location}: {exc}") from None

    @property
    def location(self) -> str:
        return redact(self.url)

    def _migrate(self, conn: psycopg.Connection[Any], migrations: Sequence[Migration]) -> None:
        latest = max((m.version for m in migrations), default=0)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > latest:
                raise TraceStoreError(
                    f"the trace store {self.location} has schema version {current}, newer than this"
                    f" crossroads knows ({latest}): upgrade crossroads or use another trace_db"
                )
            for migration in sorted(migrations, key=lambda m: m.version):
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    conn.execute(cast(LiteralString, statement))  # static SQL of this module
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (migration.version, migration.name)
                )
                log.info("trace store migrated", store=self.location, version=migration.version, name=migration.name)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a lost server becomes a `TraceStoreError` naming the store."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise TraceStoreError(f"the trace store {self.location} cannot be reached: {_reason(exc)}") from None

    def schema_version(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            return int(row[0]) if row else 0

    # -- writing (on the writer thread) -----------------------------------------------------------

    def _write(self, rows: Sequence[TraceRow]) -> None:
        params = [_params(r) for r in rows]
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                    cur.executemany(_INSERT, params)
                if attempt > 1:
                    log.info("trace store reachable again", store=self.location, attempts=attempt)
                return
            except (psycopg.OperationalError, PoolTimeout) as exc:
                wait = backoff(attempt)
                if time.monotonic() + wait > deadline or (self._closed and attempt >= 3):
                    raise
                if attempt == 1:
                    log.warning("trace store unreachable; retrying", store=self.location, error=_reason(exc))
                time.sleep(wait)
            except psycopg.Error as exc:
                if len(params) == 1:
                    raise
                log.warning("trace batch rejected; writing row by row", error=_reason(exc), rows=len(params))
                self._write_one_by_one(rows)
                return

    def _write_one_by_one(self, rows: Sequence[TraceRow]) -> None:
        for row in rows:
            try:
                self._write([row])
            except psycopg.Error as exc:
                self.dropped += 1
                log.error("trace rejected by the database; dropped", trace_id=row.trace_id, error=_reason(exc))

    def _close_backend(self) -> None:
        self._pool.close()

    # -- reading ----------------------------------------------------------------------------------

    def get(self, trace_id: str) -> AskResult | None:
        with self._connection() as conn:
            row = conn.execute("SELECT data FROM traces WHERE trace_id = %s", (trace_id,)).fetchone()
            if row is None and len(trace_id) >= MIN_PREFIX:
                rows = conn.execute(
                    "SELECT data FROM traces WHERE trace_id LIKE %s ESCAPE '\\' LIMIT 2",
                    (escape_like(trace_id) + "%",),
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
            mark="%s",
            agent_clause="route @> %s",
            agent_value=lambda name: Jsonb([name]),
            moment=lambda moment: moment,
        )
        sql = f"SELECT {_COLUMNS} FROM traces" + clause
        sql += " ORDER BY started_at DESC LIMIT %s"  # only this module's fixed clauses; values are parameters
        with self._connection() as conn:
            rows = conn.execute(cast(LiteralString, sql), (*params, max(0, last))).fetchall()
        keys = list(TraceSummary.model_fields)
        return [TraceSummary.model_validate(dict(zip(keys, r, strict=True))) for r in rows]

    def count(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT count(*) FROM traces").fetchone()
            return int(row[0]) if row else 0

    # -- conversations ----------------------------------------------------------------------------

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        with self._connection() as conn:
            head = conn.execute(
                "SELECT created_at, updated_at FROM conversations WHERE conversation_id = %s", (conversation_id,)
            ).fetchone()
            if head is None:
                return None
            rows = conn.execute(
                "SELECT role, content, trace_id, agents, created_at FROM conversation_turns"
                " WHERE conversation_id = %s ORDER BY position",
                (conversation_id,),
            ).fetchall()
        turns = [Turn(role=r[0], content=r[1], trace_id=r[2], agents=r[3], at=r[4]) for r in rows]
        return Conversation(id=conversation_id, created_at=head[0], updated_at=head[1], turns=turns)

    def append_turns(self, conversation_id: str, turns: Sequence[Turn]) -> None:
        with self._connection() as conn, conn.transaction():
            # The upsert locks the conversation's row: concurrent appends to one conversation queue here,
            # so positions never collide.
            conn.execute(
                "INSERT INTO conversations (conversation_id, created_at, updated_at) VALUES (%s, now(), now())"
                " ON CONFLICT (conversation_id) DO UPDATE SET updated_at = now()",
                (conversation_id,),
            )
            row = conn.execute(
                "SELECT coalesce(max(position), 0) FROM conversation_turns WHERE conversation_id = %s",
                (conversation_id,),
            ).fetchone()
            start = int(row[0]) if row else 0
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO conversation_turns (conversation_id, position, role, content, trace_id, agents,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (conversation_id, start + i, t.role, _clean(t.content), t.trace_id, Jsonb(t.agents), t.at)
                        for i, t in enumerate(turns, 1)
                    ],
                )

    def trace_ids(self) -> list[str]:
        """Every stored trace id (benchmarks and tests check 'stored exactly once' with it)."""
        with self._connection() as conn:
            return [r[0] for r in conn.execute("SELECT trace_id FROM traces").fetchall()]


def _clean(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; JSON escapes it, plain columns get U+FFFD instead."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


def _params(row: TraceRow) -> tuple[object, ...]:
    return (
        _clean(row.trace_id),
        row.started_at,
        _clean(row.status),
        Jsonb([_clean(a) for a in row.route]),
        _clean(row.stage),
        _clean(row.question),
        row.duration_ms,
        row.requests,
        row.input_tokens,
        row.output_tokens,
        _clean(row.error),
        row.data,
    )


def _reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
