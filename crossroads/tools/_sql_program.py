"""SQL runner that runs INSIDE the sandbox; crossroads never imports this module.

`crossroads.tools.sql` reads this file as text, appends a `main(...)` call with the query and the
inline tables as JSON string literals, and sends the program to the sandbox. The database is an
in-memory SQLite one; an authorizer refuses ATTACH (files) and a progress handler stops runaway
queries. The result is one JSON line after a per-call random marker.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from typing import Any


def _column_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool | int) for v in present):
        return "INTEGER"
    if present and all(isinstance(v, bool | int | float) for v in present):
        return "REAL"
    return "TEXT"


def _cell_in(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, dict | list) else v


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_tables(conn: sqlite3.Connection, tables: dict[str, list[dict[str, Any]]]) -> None:
    """One table per entry; columns are the union of the rows' keys, types inferred from the values."""
    for name, rows in tables.items():
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        if not columns:
            raise ValueError(f"table {name!r} has no columns (give at least one row with keys)")
        types = [_column_type([row.get(c) for row in rows]) for c in columns]
        spec = ", ".join(f"{_quote(c)} {t}" for c, t in zip(columns, types, strict=True))
        conn.execute(f"CREATE TABLE {_quote(name)} ({spec})")
        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO {_quote(name)} VALUES ({marks})", [[_cell_in(row.get(c)) for c in columns] for row in rows]
        )


def split_statements(query: str) -> list[str]:
    """Complete SQL statements in order; sqlite3 decides where each ends (quotes and comments included)."""
    statements, start = [], 0
    for i, ch in enumerate(query):
        if ch == ";" and sqlite3.complete_statement(query[start : i + 1]):
            if query[start:i].strip():
                statements.append(query[start : i + 1])
            start = i + 1
    rest = query[start:]
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        statements.append(rest)
    return statements


def _cell_out(v: Any, max_cell: int) -> tuple[Any, bool]:
    if isinstance(v, bytes):
        v = f"<blob {len(v)} bytes: {v[:32].hex()}{'...' if len(v) > 32 else ''}>"
    if isinstance(v, str) and len(v) > max_cell:
        return v[:max_cell] + "...", True
    return v, False


def _deny_files(action: int, *args: Any) -> int:
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def run(
    query: str, tables: dict[str, list[dict[str, Any]]], max_rows: int, max_cell: int, budget: float
) -> dict[str, Any]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    deadline = time.monotonic() + budget
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        create_tables(conn, tables)
    except (sqlite3.Error, ValueError) as exc:
        return {"ok": False, "error": f"could not create the inline tables: {exc}"}
    conn.set_authorizer(_deny_files)
    statements = split_statements(query)
    if not statements:
        return {"ok": False, "error": "no SQL statement given"}
    cursor = conn.cursor()
    for i, statement in enumerate(statements, 1):
        try:
            cursor.execute(statement)
        except sqlite3.Error as exc:
            where = f"statement {i} of {len(statements)}: " if len(statements) > 1 else ""
            reason = "time budget exceeded" if str(exc) == "interrupted" else str(exc)
            return {"ok": False, "error": f"{where}{type(exc).__name__}: {reason}"}
        if i < len(statements):
            cursor.fetchall()  # earlier statements run to completion; only the last one is returned
    columns = [d[0] for d in cursor.description or []]
    rows, truncated, count = [], False, 0
    try:
        for row in cursor:
            count += 1
            if count <= max_rows:
                cells = [_cell_out(v, max_cell) for v in row]
                truncated |= any(cut for _, cut in cells)
                rows.append([v for v, _ in cells])
            elif count >= max_rows * 50:
                break
    except sqlite3.Error as exc:
        reason = "time budget exceeded" if str(exc) == "interrupted" else str(exc)
        return {"ok": False, "columns": columns, "error": f"{type(exc).__name__}: {reason}"}
    return {
        "ok": True,
        "columns": columns,
        "rows": rows,
        "row_count": count,
        "truncated": truncated or count > max_rows,
    }


def main(query: str, tables_json: str, marker: str, max_rows: int, max_cell: int, budget: float) -> None:
    try:
        result = run(query, json.loads(tables_json), max_rows, max_cell, budget)
    except Exception as exc:  # a malformed request is a result, not a crash
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + marker + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
