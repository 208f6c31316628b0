"""`run_sql`: run SQL against an in-memory SQLite database inside the sandbox.

The query and the optional inline tables travel as JSON string literals inside a small program
(`_sql_program.py`) that the sandbox runs; stdlib sqlite3 there has no file to open and no network.
The result comes back on the last stdout line that starts with a per-call random marker.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

from crossroads.errors import InputError
from crossroads.tools.math_check import ProgramRunner, parse_marked
from crossroads.tools.models import SqlResult

MAX_ROWS = 200
"""Rows returned at most; `row_count` still counts further rows (up to 50x this) and `truncated` is set."""
MAX_CELL_CHARS = 1000
MAX_QUERY_CHARS = 100_000
MAX_TABLES_BYTES = 512 * 1024
DEFAULT_TIMEOUT = 5.0

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@cache
def _program_source() -> str:
    return (resources.files("crossroads.tools") / "_sql_program.py").read_text(encoding="utf-8")


def validate_tables(tables: Any) -> dict[str, list[dict[str, Any]]]:
    """Inline tables as `{name: [row dict, ...]}` with plain JSON values; raises `InputError` otherwise."""
    if tables is None:
        return {}
    if not isinstance(tables, dict):
        raise InputError("tables must be an object mapping table names to lists of row objects")
    for name, rows in tables.items():
        if not isinstance(name, str) or not _IDENT.fullmatch(name):
            raise InputError(f"table name {name!r} is not a plain identifier (letters, digits, _)")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"table {name!r}: expected a non-empty list of row objects")
        for row in rows:
            for key in row:
                if not isinstance(key, str) or not key:
                    raise InputError(f"table {name!r}: column names must be non-empty strings, got {key!r}")
    try:
        size = len(json.dumps(tables))
    except (TypeError, ValueError) as exc:
        raise InputError(f"tables must hold JSON values only: {exc}") from None
    if size > MAX_TABLES_BYTES:
        raise InputError(f"inline tables are {size} bytes as JSON; the limit is {MAX_TABLES_BYTES}")
    return tables


def build_program(query: str, tables: dict[str, list[dict[str, Any]]], marker: str, budget: float) -> str:
    """The runner source plus a call with the query and tables as JSON literals (decoded in the sandbox)."""
    query_literal, tables_literal = json.dumps(query), json.dumps(tables)
    return _program_source() + (
        f"\n\nmain(json.loads({query_literal!r}), {tables_literal!r}, {marker!r}, "
        f"{MAX_ROWS}, {MAX_CELL_CHARS}, {budget!r})\n"
    )


async def run_sql(
    toolbox: ProgramRunner,
    query: str,
    tables: dict[str, list[dict[str, Any]]] | None = None,
    timeout: float | None = None,
) -> SqlResult:
    """Run `query` (several statements allowed; the last one's rows are returned). Never raises for bad SQL."""
    started = time.perf_counter()
    if not isinstance(query, str) or not query.strip():
        return SqlResult(ok=False, error="bad input: empty query")
    if len(query) > MAX_QUERY_CHARS:
        return SqlResult(ok=False, error=f"bad input: query longer than {MAX_QUERY_CHARS} characters")
    try:
        checked = validate_tables(tables)
    except InputError as exc:
        return SqlResult(ok=False, error=f"bad input: {exc}")
    settings = getattr(toolbox, "settings", None)
    wall = timeout or getattr(settings, "timeout", None) or DEFAULT_TIMEOUT
    marker = f"@@crossroads-sql-{secrets.token_hex(8)}@@"
    run = await toolbox.run_program(build_program(query, checked, marker, max(0.2, wall * 0.8 - 0.2)), timeout=timeout)
    common: dict[str, Any] = {"tier": run.tier, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    if run.tier == "unavailable":
        return SqlResult(ok=False, error=run.error or "code execution unavailable", **common)
    data = parse_marked(run.stdout, marker)
    if data is None:
        why = "timed out" if run.timed_out else (run.error or run.stderr.strip()[-300:] or "no result")
        return SqlResult(ok=False, error=f"the SQL runner did not return a result: {why}", **common)
    try:
        return SqlResult(**data, **common)
    except ValidationError as exc:
        return SqlResult(ok=False, error=f"malformed result from the SQL runner: {exc.errors()[0]['msg']}", **common)
