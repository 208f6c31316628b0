"""`crossroads traces` / `trace` on both stores, and every way a trace store can be broken: one line and
exit 2 in the CLI, a refused start for the server, never a traceback. Settings stay in step with
defaults.toml."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from storage_support import postgres_server, postgres_url  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from crossroads.config import load_settings
from crossroads.config.settings import ServerSettings, Settings
from crossroads.storage import open_store


@pytest.fixture
def cli() -> Any:
    from crossroads.cli.app import _register_all, app

    if not any(c.name == "traces" for c in app.registered_commands):
        _register_all()
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def trace_db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    target = str(tmp_path / "traces.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    monkeypatch.setenv("CROSSROADS_TRACE_DB", target)
    return target


def test_cli_ask_then_traces_and_trace(cli: Any, trace_db: str) -> None:
    runner = CliRunner()
    asked = runner.invoke(cli, ["ask", "--json", "How do I profile a slow Python loop?"])
    assert asked.exit_code == 0, asked.output
    trace_id = json.loads(asked.stdout)["trace_id"]

    listed = runner.invoke(cli, ["traces", "--last", "5", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["trace_id"] for r in rows] == [trace_id] and rows[0]["status"] == "ok"
    agent = rows[0]["route"][0]
    for flags, expected in [
        (["--agent", agent], [trace_id]),
        (["--agent", "nobody"], []),
        (["--status", "ok"], [trace_id]),
        (["--status", "error"], []),
        (["--since", "1h"], [trace_id]),
        (["--since", "2999-01-01"], []),
    ]:
        got = runner.invoke(cli, ["traces", "--json", *flags])
        assert got.exit_code == 0, got.output
        assert [r["trace_id"] for r in json.loads(got.stdout)] == expected, flags
    bad_since = runner.invoke(cli, ["traces", "--since", "yesterday"])
    assert bad_since.exit_code == 2 and "--since" in bad_since.stderr

    shown = runner.invoke(cli, ["trace", trace_id])
    assert shown.exit_code == 0, shown.output
    assert "route" in shown.stdout and "model request" in shown.stdout and "tokens" in shown.stdout
    shown_json = runner.invoke(cli, ["trace", trace_id[:8], "--json"])
    assert json.loads(shown_json.stdout)["trace_id"] == trace_id

    for missing in ("0" * 32, "%%%", "%%%%%%", "______", trace_id[:3] + "%%%%"):
        got = runner.invoke(cli, ["trace", missing])
        assert got.exit_code == 2 and "no trace" in got.stderr, (missing, got.output)


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some bytes " * 100)


def test_corrupt_sqlite_file_is_exit_2_with_one_line(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "traces.db"
    _corrupt(db)
    monkeypatch.setenv("CROSSROADS_TRACE_DB", str(db))
    runner = CliRunner()
    for args in (["traces"], ["trace", "abcdef123456"], ["ask", "How do I profile a slow Python loop?"]):
        got = runner.invoke(cli, args)
        assert got.exit_code == 2, (args, got.output)
        assert f"the trace store {db} is corrupt or not a SQLite database" in got.stderr
        assert "Traceback" not in got.output and len(got.stderr.strip().splitlines()) <= 3


def test_damaged_pages_are_exit_2_too(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "traces.db"
    store = open_store(db)
    store.close()
    with sqlite3.connect(db) as conn:  # a valid header, then garbage where the table's pages are
        conn.execute("PRAGMA journal_mode=DELETE")
    raw = bytearray(db.read_bytes())
    raw[4096:] = b"\xff" * (len(raw) - 4096)
    db.write_bytes(bytes(raw))
    monkeypatch.setenv("CROSSROADS_TRACE_DB", str(db))
    got = CliRunner().invoke(cli, ["traces"])
    assert got.exit_code == 2, got.output
    assert "trace store" in got.stderr and "Traceback" not in got.output


def test_serve_refuses_to_start_on_a_corrupt_store(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "traces.db"
    _corrupt(db)
    monkeypatch.setenv("CROSSROADS_TRACE_DB", str(db))
    got = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert got.exit_code == 2, got.output
    assert "is corrupt or not a SQLite database" in got.stderr and "Traceback" not in got.output


def test_serve_refuses_to_start_on_an_unreachable_postgres(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossroads.testing.services import free_port

    monkeypatch.setenv("CROSSROADS_TRACE_DB", f"postgresql://u:pw@127.0.0.1:{free_port()}/db")
    got = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert got.exit_code == 2, got.output
    assert "cannot open the trace store postgresql://u:***@127.0.0.1" in got.stderr and ":pw@" not in got.output


def test_a_store_from_before_versioning_is_adopted(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the table as the unversioned store created it
        conn.execute(
            "CREATE TABLE traces (trace_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, status TEXT NOT NULL,"
            " route TEXT NOT NULL, stage TEXT NOT NULL, question TEXT NOT NULL, duration_ms REAL NOT NULL,"
            " requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
            " error TEXT, data TEXT NOT NULL)"
        )
        from crossroads.result import AskResult, RouteDecision

        old = AskResult(trace_id="0ld0ld0ld0ld", question="q", answer="a", route=RouteDecision())
        conn.execute(
            "INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                old.trace_id,
                old.started_at.isoformat(),
                "ok",
                "[]",
                "local",
                "q",
                1.0,
                0,
                0,
                0,
                None,
                old.model_dump_json(),
            ),
        )
    store = open_store(db)
    try:
        assert store.schema_version() == 2  # type: ignore[attr-defined]  (adopted, then migrated: conversations)
        assert store.get("0ld0ld0ld0ld") is not None and store.count() == 1
    finally:
        store.close()


def test_storage_and_limit_settings_agree_with_defaults_toml() -> None:
    s = load_settings()
    assert s.server == ServerSettings.model_validate({})
    for name in ("trace_db", "trace_max_bytes", "trace_commit", "trace_pool_size"):
        assert getattr(s, name) == Settings.model_fields[name].default, name
    assert load_settings(trace_db=Path("/tmp/x.db")).trace_db_path() == Path("/tmp/x.db")
    assert load_settings(trace_db="postgresql://h/db").trace_db_path() is None
    assert load_settings(trace_db="off").trace_db_target() is None


def test_opening_an_up_to_date_file_takes_no_write_lock(tmp_path: Path) -> None:
    """`crossroads traces` while a server holds the write lock: it reads at once instead of waiting."""
    import time

    db = tmp_path / "traces.db"
    open_store(db).close()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        t0 = time.monotonic()
        store = open_store(db)
        assert store.count() == 0 and time.monotonic() - t0 < 5
        store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
