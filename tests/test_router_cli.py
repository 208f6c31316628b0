"""`crossroads route`: the decision, eval and fit forms, exit codes, and a start path free of pydantic-ai."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossroads.cli import route as route_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run():
    app = typer.Typer()
    app.callback()(lambda: None)
    route_cli.register(app)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, ["route", *args], input=input)

    return invoke


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"question": "How do I configure a HorizontalPodAutoscaler on GKE?", "labels": ["cloud-infra"]},
        {"question": "Rust borrow checker: cannot borrow as mutable", "labels": ["language"]},
        {"question": "What is a good recipe for banana bread?", "labels": []},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_route_question_json(run) -> None:
    result = run("--json", "How do I use a multi-stage Dockerfile to shrink my image?")
    assert result.exit_code == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["targets"][0]["agent"] == "cloud-infra" and decision["stage"] == "local"


def test_route_question_human_and_stdin(run) -> None:
    result = run("-", input="Python asyncio: how do I cancel a task group cleanly?")
    assert result.exit_code == 0, result.stderr
    assert "language" in result.stdout and "stage: local" in result.stdout


def test_empty_question_exits_2(run) -> None:
    result = run("   ")
    assert result.exit_code == 2 and "question is empty" in result.stderr


def test_eval_json_has_the_issue_keys(run, labelled: Path) -> None:
    result = run("eval", str(labelled), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {
        "primary_accuracy",
        "exact_set_accuracy",
        "micro_f1",
        "macro_f1",
        "abstain_precision",
        "abstain_recall",
        "latency_p50_ms",
        "latency_p99_ms",
        "n",
    } <= set(report)
    assert report["n"] == 3 and report["primary_accuracy"] == 1.0 and report["abstain_recall"] == 1.0


def test_eval_human_prints_tables(run, labelled: Path) -> None:
    result = run("eval", str(labelled))
    assert result.exit_code == 0, result.stderr
    assert "primary accuracy" in result.stdout and "per agent" in result.stdout and "confusion" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"question": "q", "labels": []}\n{oops\n', ":2: not valid JSON"),
        ('{"question": "q", "labels": ["astrology"]}\n', ":1: unknown label"),
    ],
)
def test_eval_bad_input_exits_2(run, tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "in.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("eval", str(path))
    assert result.exit_code == 2 and message in result.stderr and "in.jsonl" in result.stderr


def test_fit_prints_and_writes(run, labelled: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[router]\nmode = "local"\n', encoding="utf-8")
    result = run("fit", str(labelled), "--config", str(cfg), "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["after"]["primary_accuracy"] >= out["before"]["primary_accuracy"] and out["written"] is None
    result = run("fit", str(labelled), "--config", str(cfg), "--write")
    assert result.exit_code == 0, result.stderr
    assert f"threshold = {out['threshold']}" in cfg.read_text() and 'mode = "local"' in cfg.read_text()


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions are lazy by design
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_route_modules_do_not_import_the_llm_stack_at_top_level() -> None:
    files = [ROOT / "crossroads/cli/route.py", *sorted((ROOT / "crossroads/router").glob("*.py"))]
    for file in files:
        if file.name == "llm.py":
            continue  # loaded only when an LLM router is configured
        heavy = {n for n in _top_level_imports(file) if n.split(".")[0] in {"pydantic_ai", "openai", "anthropic"}}
        assert not heavy, f"{file.name} imports {heavy} at module level"


def test_route_command_process_never_loads_pydantic_ai(tmp_path: Path) -> None:
    code = (
        "import sys, typer\n"
        "from crossroads.cli import route\n"
        "app = typer.Typer(); app.callback()(lambda: None); route.register(app)\n"
        "try:\n    app(['route', '--json', 'How do I autoscale pods on EKS?'])\n"
        "except SystemExit:\n    pass\n"
        "print('LOADED' if any(m.split('.')[0] == 'pydantic_ai' for m in sys.modules) else 'CLEAN')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.stdout.strip().endswith("CLEAN"), proc.stdout + proc.stderr
    assert '"cloud-infra"' in proc.stdout


def test_eval_cascade_report_counts_what_would_escalate(run, labelled: Path) -> None:
    result = run("eval", str(labelled), "--cascade-report", "--json", "--mode", "local")
    assert result.exit_code == 0, result.output
    rep = json.loads(result.output)
    assert rep["n"] == 3 and rep["escalated"] + rep["kept"]["n"] == 3
    assert rep["local"]["n"] == 3 and rep["llm_configured"] is False
    human = run("eval", str(labelled), "--cascade-report", "--mode", "local")
    assert human.exit_code == 0 and "escalated" in human.output
