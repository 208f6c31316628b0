"""The CLI as a user drives it: exit codes, stdout/stderr separation, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossroads.cli import app as cli_app
from crossroads.result import AskResult

K8S_QUESTION = (
    "How should I deploy a fine-tuned LLM behind an autoscaled API on Kubernetes, and which metrics"
    " do I monitor for drift?"
)


@pytest.fixture(scope="module")
def run():
    cli_app._register_all()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli_app.app, list(args), input=input)

    return invoke


def test_ask_json_validates_and_routes_to_data_ai_and_cloud(run) -> None:
    result = run("ask", "--json", K8S_QUESTION)
    assert result.exit_code == 0, result.stderr
    parsed = AskResult.model_validate_json(result.stdout)
    assert {"data-ai", "cloud-infra"} <= set(parsed.handoff_path)
    assert parsed.route.targets and parsed.model_requests and parsed.trace_id


def test_ask_human_output_has_answer_on_stdout_and_trace_on_stderr(run) -> None:
    result = run("ask", K8S_QUESTION)
    assert result.exit_code == 0
    assert "Specialist" in result.stdout
    assert "route (" in result.stderr and "model requests:" in result.stderr


def test_question_from_stdin(run) -> None:
    result = run("ask", "--json", "-", input="What is a Python decorator and how does functools.wraps help?")
    assert result.exit_code == 0
    assert AskResult.model_validate_json(result.stdout).question.startswith("What is a Python decorator")


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_one_line(run, question: str) -> None:
    result = run("ask", question)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error:") and "empty" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_graph_formats(run) -> None:
    mermaid = run("graph", "--format", "mermaid")
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("flowchart LR")
    dot = run("graph", "--format", "dot")
    assert dot.exit_code == 0 and dot.stdout.startswith("digraph handoffs")
    table = run("graph")
    assert table.exit_code == 0 and "Handoff graph" in table.stdout
    data = json.loads(run("graph", "--format", "json").stdout)
    assert (
        "router" in data["nodes"]
        and {"from": "data-ai", "to": "cloud-infra"}.items() <= data["edges"][0].items()
        or any(e["from"] == "data-ai" and e["to"] == "cloud-infra" for e in data["edges"])
    )


def test_graph_with_unknown_agent_exits_2_naming_the_file(run, tmp_path: Path) -> None:
    bad = tmp_path / "graph.yaml"
    bad.write_text("edges:\n  - {from: data-ai, to: astrology}\n")
    result = run("graph", "--graph", str(bad))
    assert result.exit_code == 2
    assert str(bad) in result.stderr.replace("\n", "") and "astrology" in result.stderr


def test_broken_card_is_skipped_naming_the_file_and_strict_exits_2(run, tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("---\nname: broken\ndescription: [oops\n---\n# Broken\n")
    for command in (["agents"], ["ask", "hello"]):
        result = run(*command, "--cards", str(tmp_path))
        assert result.exit_code == 0, command  # one bad file never blocks the folder (or the packaged cards)
        assert "broken.md:3" in result.stderr.replace("\n", "") and "Traceback" not in result.stderr
    for command in (["agents"], ["graph"], ["ask", "hello"]):
        result = run(*command, "--cards", str(tmp_path), *(["--strict"] if command != ["graph"] else []))
        expected = 0 if command == ["graph"] else 2
        assert result.exit_code == expected, command
        if expected:
            assert "broken.md:3" in result.stderr.replace("\n", "") and "Traceback" not in result.stderr


def test_malformed_config_exits_2(run, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[limits]\nmax_hops = 'many'\n")
    result = run("ask", "--config", str(cfg), "hello")
    assert result.exit_code == 2 and "limits.max_hops" in result.stderr


def test_agents_lists_five_specialists(run) -> None:
    result = run("agents", "--json")
    assert result.exit_code == 0
    names = {a["name"] for a in json.loads(result.stdout)}
    assert names == {"data-ai", "cloud-infra", "language", "architecture-security", "core-dev"}


def test_console_script_json_output_can_be_piped(tmp_path: Path) -> None:
    """As a real process: stdout holds exactly one JSON document, logs stay on stderr."""
    exe = Path(sys.executable).parent / "crossroads"
    proc = subprocess.run(
        [str(exe), "--log-level", "info", "ask", "--json", K8S_QUESTION],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(exe.parent), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    AskResult.model_validate_json(proc.stdout)
    assert "route" in proc.stderr  # the info logs went to stderr
