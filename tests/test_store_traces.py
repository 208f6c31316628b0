"""The SQLite trace store: WAL mode, no lost writes under concurrency, failed asks stored, CLI listing."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossroads.config import load_settings
from crossroads.errors import LimitExceeded
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, RouteDecision, RouteTarget
from crossroads.store import TraceStore


def _result(i: int) -> AskResult:
    return AskResult(
        trace_id=f"{i:032x}",
        question=f"question {i}",
        answer=f"answer {i}",
        route=RouteDecision(targets=[RouteTarget(agent="core-dev", confidence=0.9, sub_question="q")]),
    )


def test_store_is_wal_and_round_trips(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    try:
        assert store.journal_mode().lower() == "wal"
        store.submit(_result(7))
        store.flush()
        got = store.get(f"{7:032x}")
        assert got is not None and got.answer == "answer 7" and got.route.agents == ["core-dev"]
        assert store.get(f"{7:032x}"[:10]).trace_id == f"{7:032x}"  # unique prefix
        assert store.get("f" * 32) is None
        [row] = store.recent(5)
        assert row.status == "ok" and row.route == ["core-dev"]
    finally:
        store.close()


def test_concurrent_writers_from_many_threads_lose_nothing(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    threads = [
        threading.Thread(target=lambda k=k: [store.submit(_result(k * 100 + i)) for i in range(50)]) for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    reopened = TraceStore(tmp_path / "t.db")
    assert reopened.count() == 400
    reopened.close()


def _settings(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_settings(trace_db=str(tmp_path / "traces.db"), **overrides)


@pytest.mark.anyio
async def test_200_concurrent_asks_are_all_stored(tmp_path: Path, fake_toolbox: object) -> None:
    settings = _settings(tmp_path)
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as orch:
        results = await asyncio.gather(
            *(orch.ask(f"How do I profile a slow Python loop, case {i}?") for i in range(200))
        )
        store = orch.trace_store
        assert store is not None
    check = TraceStore(settings.trace_db_path())
    assert check.count() == 200
    assert {r.trace_id for r in results} == {s.trace_id for s in check.recent(500)}
    check.close()


@pytest.mark.anyio
async def test_failed_ask_is_stored_with_error_status(tmp_path: Path, fake_toolbox: object) -> None:
    settings = _settings(tmp_path, timeout=1e-6)
    async with Orchestrator(settings, toolbox=fake_toolbox, trace_store=True) as orch:
        with pytest.raises(LimitExceeded) as info:
            await orch.ask("How do I profile a slow Python loop?")
    trace_id = info.value.partial.trace_id
    check = TraceStore(settings.trace_db_path())
    stored = check.get(trace_id)
    check.close()
    assert stored is not None and stored.status == "error" and "timeout" in (stored.error or "")


@pytest.mark.anyio
async def test_library_default_stores_nothing_and_off_disables(tmp_path: Path, fake_toolbox: object) -> None:
    async with Orchestrator(_settings(tmp_path), toolbox=fake_toolbox) as orch:
        assert orch.trace_store is None
    async with Orchestrator(load_settings(trace_db="off"), toolbox=fake_toolbox, trace_store=True) as orch:
        assert orch.trace_store is None


def test_cli_traces_and_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossroads.cli.app import _register_all, app

    if not any(c.name == "traces" for c in app.registered_commands):
        _register_all()
    db = tmp_path / "traces.db"
    monkeypatch.setenv("CROSSROADS_TRACE_DB", str(db))
    runner = CliRunner()
    asked = runner.invoke(app, ["ask", "--json", "How do I profile a slow Python loop?"])
    assert asked.exit_code == 0, asked.output
    trace_id = json.loads(asked.stdout)["trace_id"]

    listed = runner.invoke(app, ["traces", "--last", "5", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["trace_id"] for r in rows] == [trace_id] and rows[0]["status"] == "ok"

    shown = runner.invoke(app, ["trace", trace_id])
    assert shown.exit_code == 0, shown.output
    assert "route" in shown.stdout and "model request" in shown.stdout and "tokens" in shown.stdout

    shown_json = runner.invoke(app, ["trace", trace_id[:8], "--json"])
    assert json.loads(shown_json.stdout)["trace_id"] == trace_id

    missing = runner.invoke(app, ["trace", "0" * 32])
    assert missing.exit_code == 2 and "no trace" in missing.stderr
