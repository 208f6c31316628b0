"""`crossroads ask` and providers: model/base URL/timeout from flags or environment, missing keys exit 2,
live progress on a terminal (stderr only)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from crossroads.cli import app as cli_app
from crossroads.config import load_settings


@pytest.fixture(scope="module")
def run() -> Any:
    cli_app._register_all()
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app.app, list(args))


@pytest.mark.parametrize(("how", "variable"), [("flag", "ANTHROPIC_API_KEY"), ("env", "OPENAI_API_KEY")])
def test_missing_key_exits_2_naming_the_variable(
    how: str, variable: str, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSROADS_TRACE_DB", "off")
    if how == "flag":
        result = run("ask", "--model", "anthropic:claude-sonnet-4-6", "How do I autoscale pods?")
    else:
        monkeypatch.setenv("CROSSROADS_MODEL", "openai:gpt-5")
        result = run("ask", "How do I autoscale pods?")
    assert result.exit_code == 2
    assert variable in result.stderr and result.stdout == ""


def test_model_base_url_and_timeout_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSROADS_MODEL", "openai-compatible:llama3.2")
    monkeypatch.setenv("CROSSROADS_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("CROSSROADS_TIMEOUT", "12.5")
    settings = load_settings()
    assert (settings.model, settings.base_url, settings.timeout) == (
        "openai-compatible:llama3.2",
        "http://127.0.0.1:11434/v1",
        12.5,
    )
    flags = load_settings(model="offline", timeout=3.0)  # flags win over the environment
    assert (flags.model, flags.timeout) == ("offline", 3.0)


def test_timeout_flag_stops_the_ask_with_exit_1(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSROADS_TRACE_DB", "off")
    result = run("ask", "--timeout", "0.000001", "--agent", "cloud-infra", "How do I autoscale pods?")
    assert result.exit_code == 1 and "timeout" in result.stderr


def test_live_progress_on_a_terminal_goes_to_stderr(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossroads.cli import ask as ask_cmd
    from crossroads.cli import progress

    monkeypatch.setenv("CROSSROADS_TRACE_DB", "off")
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    monkeypatch.setattr(ask_cmd, "err", terminal)
    monkeypatch.setattr(progress, "err", terminal)
    result = run("ask", "--agent", "cloud-infra", "How do I autoscale pods on Kubernetes?")
    assert result.exit_code == 0, result.stderr
    assert "Cloud & Infrastructure" in result.stdout
    shown = screen.getvalue()
    assert "route (fixed): cloud-infra 1.00" in shown
    assert "route (fixed)" not in result.stdout
