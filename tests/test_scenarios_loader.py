"""Scenario files: good ones load with defaults merged; malformed ones are errors naming file, scenario and field,
and never stop the other files from running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossroads.testing.scenario import load_file, load_paths
from crossroads.testing.select import select

GOOD = """
description: good
defaults:
  tags: [base]
  config: {limits: {max_hops: 2}}
  assert: [{type: route, value: {abstain: true}}]
tests:
  - id: oos-cooking
    tags: [food]
    question: What is the best recipe for banana bread?
    config: {limits: {max_requests: 5}, cards: [cards]}
    assert: [{type: status, value: out_of_scope}]
  - id: oos-vars
    vars: {question: "Who won the football world cup in 2018?"}
    assert: [{type: max-requests, threshold: 0}]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_merges_defaults_and_resolves_paths(tmp_path: Path) -> None:
    scenarios, errors = load_file(_write(tmp_path, "good.yaml", GOOD))
    assert errors == []
    first, second = scenarios
    assert first.tags == ["base", "food"] and [a.type for a in first.assertions] == ["route", "status"]
    assert first.config.limits == {"max_hops": 2, "max_requests": 5}
    assert first.config.cards == [(tmp_path / "cards").resolve()]
    assert second.prompt == "Who won the football world cup in 2018?"
    assert select(scenarios, "food or vars") == scenarios
    assert [s.id for s in select(scenarios, "not food and base")] == ["oos-vars"]
    assert [s.id for s in select(scenarios, tags=["food"])] == ["oos-cooking"]


@pytest.mark.parametrize(
    ("body", "scenario", "field", "words"),
    [
        (
            "tests:\n  - id: a\n    question: q\n    assert: [{type: contians, value: x}]\n",
            "a",
            "assert[0]",
            "unknown assertion type 'contians'",
        ),
        (
            "tests:\n  - id: b\n    question: q\n    assert: [{type: route, value: {primry: x}}]\n",
            "b",
            "assert[0]",
            "unknown key 'primry'",
        ),
        ("tests:\n  - id: c\n    assert: [{type: contains, value: x}]\n", "c", "question", "exactly one of question"),
        (
            "tests:\n  - id: d\n    question: q\n"
            "    config: {limits: {max_request: 1}}\n    assert: [{type: not-error}]\n",
            "d",
            "config.limits.max_request",
            "unknown field",
        ),
        (
            "tests:\n  - id: e\n    question: q\n    qestion: q\n    assert: [{type: not-error}]\n",
            "e",
            "qestion",
            "unknown field",
        ),
        (
            "tests:\n  - id: f\n    question: q\n    assert: [{type: regex, value: '(unclosed'}]\n",
            "f",
            "assert[0]",
            "invalid pattern",
        ),
        ("tests:\n  - id: g\n    question: q\n    assert: []\n", "g", "assert", "at least 1"),
        (
            "tests:\n  - id: h\n    question: q\n    assert: [{type: latency}]\n",
            "h",
            "assert[0]",
            "needs a 'threshold'",
        ),
    ],
)
def test_malformed_scenario_names_file_scenario_and_field(
    tmp_path: Path, body: str, scenario: str, field: str, words: str
) -> None:
    path = _write(tmp_path, "bad.yaml", body)
    scenarios, errors = load_file(path)
    assert scenarios == []
    (error,) = errors
    assert (error.file, error.scenario, error.field) == (str(path), scenario, field)
    text = str(error)
    assert text.startswith(f"{path}: scenario '{scenario}': field '{field}'") and words in text, text


def test_file_level_errors(tmp_path: Path) -> None:
    (err,) = load_file(_write(tmp_path, "a.yaml", "tests: [\n"))[1]
    assert "not valid YAML (line" in str(err)
    (err,) = load_file(_write(tmp_path, "b.yaml", "tests: []\n"))[1]
    assert err.field == "tests"
    (err,) = load_file(
        _write(tmp_path, "c.yaml", "tests: [{id: x, question: q, assert: [{type: not-error}]}]\nprompts: []\n")
    )[1]
    assert err.field == "prompts" and "unknown top-level key" in str(err)


def test_one_bad_scenario_leaves_the_rest_of_the_file(tmp_path: Path) -> None:
    body = GOOD + "  - id: oos-cooking\n    question: q\n    assert: [{type: not-error}]\n"
    scenarios, errors = load_file(_write(tmp_path, "dup.yaml", body))
    assert [s.id for s in scenarios] == ["oos-cooking", "oos-vars"]
    assert errors[0].scenario == "oos-cooking" and errors[0].field == "id" and "duplicate" in str(errors[0])


def test_directories_only_pick_scenario_files(tmp_path: Path) -> None:
    _write(tmp_path, "good.yaml", GOOD)
    _write(tmp_path, "other.yaml", "key: value\n")
    (tmp_path / "good.cassettes").mkdir()
    _write(tmp_path / "good.cassettes", "x.yaml", GOOD)
    scenarios, errors = load_paths([tmp_path])
    assert errors == [] and {s.file.name for s in scenarios} == {"good.yaml"}


def test_cli_malformed_file_exits_2_and_other_files_still_run(tmp_path: Path) -> None:
    from crossroads.cli.app import _register_all, app

    _register_all()
    _write(tmp_path, "good.yaml", GOOD)
    (tmp_path / "cards").mkdir()
    bad = _write(
        tmp_path, "bad.yaml", "tests:\n  - id: broken\n    question: q\n    assert: [{type: route, value: 3}]\n"
    )
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["test", str(tmp_path), "--json", str(report)])
    assert result.exit_code == 2, result.output
    assert f"{bad}: scenario 'broken': field 'assert[0]'" in result.output
    data = json.loads(report.read_text())
    assert data["summary"]["passed"] == 2 and data["summary"]["load_errors"] == 1
    assert {s["id"]: s["status"] for s in data["scenarios"]} == {"oos-cooking": "passed", "oos-vars": "passed"}
