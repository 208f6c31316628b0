"""Trace storage: where every ask's `AskResult` (answer plus full trace) is kept.

`open_store(target)` picks the backend from the target: a file path or `sqlite:///path` opens the
embedded SQLite store (the default, one machine), `postgresql://...` the PostgreSQL store that several
replicas share. Both implement `TraceStore` (`base.py`): non-blocking `submit`, `aflush`, `aclose`,
and `get`/`recent`/`count` reads with the same filters.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crossroads.config.settings import sqlite_path
from crossroads.storage.base import (
    DEFAULT_MAX_BYTES,
    MIN_PREFIX,
    Migration,
    TraceStore,
    TraceStoreError,
    TraceSummary,
)
from crossroads.storage.sqlite import SQLiteTraceStore

if TYPE_CHECKING:
    from crossroads.config import Settings

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_store(target: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, pool_size: int = 4) -> TraceStore:
    """Open (creating and migrating as needed) the trace store at `target`; raises `TraceStoreError`."""
    if is_postgres(target):
        from crossroads.storage.postgres import PostgresTraceStore

        return PostgresTraceStore(str(target), max_bytes=max_bytes, pool_size=pool_size)
    path = sqlite_path(target)
    if path is None:
        scheme = str(target).split("://", 1)[0]
        raise TraceStoreError(
            f"trace_db: unknown scheme '{scheme}://'; use a file path, sqlite:///path or postgresql://..."
        )
    return SQLiteTraceStore(path, max_bytes=max_bytes)


def store_from_settings(settings: Settings) -> TraceStore | None:
    """The store `settings` configure (`trace_db`, `trace_max_bytes`, `trace_pool_size`), None when off."""
    target = settings.trace_db_target()
    if target is None:
        return None
    return open_store(target, max_bytes=settings.trace_max_bytes, pool_size=settings.trace_pool_size)


def check_store(settings: Settings) -> None:
    """Open and close the configured store: fails with `TraceStoreError` (corrupt, unreachable, newer schema).

    `crossroads serve` calls it before binding, so a store that cannot work is one clear line and exit
    code 2 at start-up (migrations run here, once, before any worker starts), not a failing worker.
    """
    store = store_from_settings(settings)
    if store is not None:
        store.close()


__all__ = [
    "check_store",
    "DEFAULT_MAX_BYTES",
    "MIN_PREFIX",
    "Migration",
    "SQLiteTraceStore",
    "TraceStore",
    "TraceStoreError",
    "TraceSummary",
    "is_postgres",
    "open_store",
    "sqlite_path",
    "store_from_settings",
]
