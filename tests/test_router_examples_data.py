"""The routing example files stay well-formed, balanced and disjoint as people add to them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_route_data", ROOT / "bench" / "check_route_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_files_pass_the_checker() -> None:
    assert _checker().check(ROOT) == []


def test_checker_reports_duplicates_and_unknown_labels(tmp_path: Path) -> None:
    checker = _checker()
    for rel in checker.FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"question": "k8s pod stuck in CrashLoopBackOff", "labels": ["cloud-infra"]},
        {"question": "K8s pod stuck in  CrashLoopBackOff", "labels": ["cloud-infra"]},
        {"question": "what is a monad", "labels": ["haskell"]},
    ]
    (tmp_path / checker.FILES[0]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / checker.FILES[1]).write_text("not json\n")
    problems = checker.check(tmp_path)
    assert any("duplicate of" in p for p in problems)
    assert any("unknown label" in p and "haskell" in p for p in problems)
    assert any("not JSON" in p for p in problems)
    assert any(p.startswith("off-topic: 0 examples") for p in problems)


def test_packaged_file_loads_with_the_router_loader() -> None:
    from crossroads.router.examples import PACKAGED_EXAMPLES, load_examples

    names = {"data-ai", "cloud-infra", "language", "architecture-security", "core-dev"}
    examples = load_examples(PACKAGED_EXAMPLES, known_agents=names)
    assert len(examples) >= 400
    assert any(not e.labels for e in examples)
    assert any(len(e.labels) == 3 for e in examples)
