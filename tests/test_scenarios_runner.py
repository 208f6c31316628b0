"""The runner end to end: JUnit counts every scenario, replay fails closed, and breaking a card or a graph edge
makes the scenarios that depend on it fail with a readable expected-vs-actual message."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crossroads.testing.report import json_report, junit_xml
from crossroads.testing.runner import Report, RunOptions, ScenarioRunner
from crossroads.testing.scenario import load_file, load_paths
from crossroads.testing.select import select

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
PACKAGED_CARDS = REPO / "crossroads" / "prompts"
PACKAGED_GRAPH = REPO / "crossroads" / "config" / "graph.yaml"


async def _run(paths: list[Path], keyword: str | None = None, **options: object) -> Report:
    scenarios, errors = load_paths(paths)
    async with ScenarioRunner(RunOptions(**options)) as runner:  # type: ignore[arg-type]
        outcomes = await runner.run(select(scenarios, keyword))
    return Report(outcomes=outcomes, load_errors=errors)


@pytest.mark.anyio
async def test_junit_and_json_count_every_scenario(tmp_path: Path) -> None:
    shutil.copy(SCENARIOS / "out_of_scope.yaml", tmp_path / "oos.yaml")
    (tmp_path / "mixed.yaml").write_text("""
tests:
  - id: passes
    question: What is the best recipe for banana bread?
    assert: [{type: route, value: {abstain: true}}]
  - id: fails
    question: Who won the football world cup in 2018?
    assert: [{type: route, value: {primary: cloud-infra}}]
  - id: errors
    agent: no-such-agent
    question: How do I use Kubernetes?
    assert: [{type: status, value: ok}]
  - id: skipped
    question: What is the best recipe for banana bread?
    assert: [{type: llm-rubric, value: polite}]
  - id: malformed
    question: q
    assert: [{type: nope}]
""")
    report = await _run([tmp_path])
    assert report.exit_code == 2
    root = ET.fromstring(junit_xml(report))
    cases = root.findall(".//testcase")
    assert len(cases) == 3 + 5 and root.get("tests") == "8"
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("1", "2", "1")
    by_name = {c.get("name"): c for c in cases}
    failure = by_name["fails"].find("failure")
    assert failure is not None and "primary 'cloud-infra', got None" in (failure.text or "")
    assert "expected" in failure.get("message", "") and "actual" in failure.get("message", "")
    assert "unknown agent 'no-such-agent'" in (by_name["errors"].find("error").text or "")  # type: ignore[union-attr]
    assert "no judge model" in by_name["skipped"].find("skipped").get("message", "")  # type: ignore[union-attr]
    assert "unknown assertion type 'nope'" in by_name["malformed"].find("error").get("message", "")  # type: ignore[union-attr]
    props = {p.get("name"): p.get("value") for p in by_name["passes"].iter("property")}
    assert props["route"] == "abstain" and props["handoff_path"] == "router"
    summary = json_report(report)["summary"]
    assert summary == {"total": 8, "passed": 4, "failed": 1, "error": 1, "skipped": 1, "load_errors": 1, "exit_code": 2}


def _copy_replay(tmp_path: Path) -> Path:
    shutil.copy(SCENARIOS / "replay.yaml", tmp_path / "replay.yaml")
    shutil.copytree(SCENARIOS / "replay.cassettes", tmp_path / "replay.cassettes")
    return tmp_path / "replay.yaml"


@pytest.mark.anyio
async def test_replay_serves_cassettes_offline(tmp_path: Path) -> None:
    path = _copy_replay(tmp_path)
    report = await _run([path], "replay-cloud-text or replay-llm-router", mode="replay")
    assert [(o.id, o.status, o.replayed) for o in report.outcomes] == [
        ("replay-cloud-text", "passed", True),
        ("replay-llm-router", "passed", True),
        ("replay-llm-router-two-specialists", "passed", True),
    ]
    for cassette in (tmp_path / "replay.cassettes").glob("*.json"):
        text = cassette.read_text()
        assert "bearer" not in text.lower() and "sk-recording" not in text and "api_key" not in text


@pytest.mark.anyio
async def test_replay_fails_closed_on_a_changed_request(tmp_path: Path) -> None:
    path = _copy_replay(tmp_path)
    path.write_text(
        path.read_text().replace(
            "Kubernetes HorizontalPodAutoscaler for a deployment?",
            "Kubernetes HorizontalPodAutoscaler for a StatefulSet?",
        )
    )
    report = await _run([path], "replay-cloud-text", mode="replay")
    (outcome,) = report.outcomes
    assert outcome.status == "error" and report.exit_code == 1
    assert "scenario 'replay-cloud-text'" in outcome.message
    assert re.search(
        r"first difference .* at messages\[0\]\.parts\[0\]\.content: recorded \".*for a deployment\?\", "
        r"now \".*for a StatefulSet\?\"",
        outcome.message,
    ), outcome.message


@pytest.mark.anyio
async def test_replay_without_a_cassette_never_calls_the_network(tmp_path: Path) -> None:
    path = _copy_replay(tmp_path)
    shutil.rmtree(tmp_path / "replay.cassettes")
    report = await _run([path], "replay-cloud-text", mode="replay")
    (outcome,) = report.outcomes
    assert outcome.status == "error" and "file missing; run with --record" in outcome.message


def _break_cloud_card(cards: Path) -> None:
    """The Cloud card without its Kubernetes capability, sections and lines (a plausible bad edit)."""
    shutil.copytree(PACKAGED_CARDS, cards)
    card = cards / "cloud-infra.md"
    k8s = re.compile(r"kubernetes|\bk8s\b|\bhpa\b|keda|autoscal|helm", re.IGNORECASE)
    _, front, body = card.read_text().split("---\n", 2)
    front = "\n".join(
        line for line in front.splitlines() if not (line.startswith("  - ") and k8s.search(line))
    ).replace(" and Kubernetes", "")
    body = re.sub(r"\n## Containers and Kubernetes Orchestration\n.*?(?=\n## )", "\n", body, flags=re.DOTALL)
    body = "\n".join(line for line in body.splitlines() if not k8s.search(line))
    card.write_text(f"---\n{front}\n---\n{body}\n")
    assert "Kubernetes" not in card.read_text()


@pytest.mark.anyio
async def test_breaking_the_cloud_card_fails_its_scenarios_readably(tmp_path: Path) -> None:
    # The handoff scenarios do not depend on the card text: offline specialists judge handoffs with the
    # router's classifier, which also learns from the labelled examples (the graph-edge test covers them).
    keyword = "cloud-k8s-autoscaling"
    intact = await _run([SCENARIOS / "specialists.yaml"], keyword)
    assert [o.status for o in intact.outcomes] == ["passed"]

    _break_cloud_card(tmp_path / "cards")
    broken = await _run([SCENARIOS / "specialists.yaml"], keyword, overrides={"cards": [str(tmp_path / "cards")]})
    by_id = {o.id: o for o in broken.outcomes}
    assert by_id["cloud-k8s-autoscaling"].status == "failed"
    message = by_id["cloud-k8s-autoscaling"].message
    assert 'icontains-all: expected answer containing (any case) all of ["autoscal", "keda"]; actual ' in message
    assert "regex: expected answer matching regex 'Sources: .*Kubernetes'; actual '**Cloud & Infrastructure" in message


@pytest.mark.anyio
async def test_removing_a_graph_edge_fails_that_edge_scenario(tmp_path: Path) -> None:
    graph = tmp_path / "graph.yaml"
    lines = PACKAGED_GRAPH.read_text().splitlines()
    graph.write_text("\n".join(line for line in lines if "{from: core-dev, to: language" not in line) + "\n")
    report = await _run(
        [SCENARIOS / "handoffs.yaml"], "edge-core-to-lang or edge-lang-to-core", overrides={"graph": str(graph)}
    )
    by_id = {o.id: o for o in report.outcomes}
    assert by_id["edge-lang-to-core"].status == "passed"
    failed = by_id["edge-core-to-lang"]
    assert failed.status == "failed"
    assert "edges ['core-dev->language'] not taken" in failed.message
    assert 'actual {"path": ["router", "core-dev"]' in failed.message


def test_pytest_collects_scenario_files(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    shutil.copy(SCENARIOS / "out_of_scope.yaml", scenarios / "out_of_scope.yaml")
    (scenarios / "broken.yaml").write_text("tests:\n  - id: bad\n    question: q\n    assert: [{type: nope}]\n")
    (scenarios / "notes.yaml").write_text("key: value\n")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert re.search(r"1 failed, 4 passed", out), out
    assert "scenarios/out_of_scope.yaml::oos-cooking" in out and "test_plain.py::test_plain" in out
    assert "scenario 'bad': field 'assert[0]': unknown assertion type 'nope'" in out


def test_replay_file_loads() -> None:
    scenarios, errors = load_file(SCENARIOS / "replay.yaml")
    assert errors == [] and len(scenarios) >= 5
    assert all(s.config.model == "openai-compatible:llama3.2" for s in scenarios)
    assert all((SCENARIOS / "replay.cassettes" / f"{s.id}.json").is_file() for s in scenarios)
