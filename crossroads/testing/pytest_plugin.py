"""pytest plugin: `pytest scenarios/` collects scenario YAML files as test items.

Registered through the `pytest11` entry point. Only YAML files under a directory named `scenarios`
(or named `*.scenarios.yaml`) with a top-level `tests:` key are collected, so ordinary test runs are not
slowed down or disturbed. The first scenario item to run runs every selected scenario concurrently with
the same runner `crossroads test` uses (shared orchestrators); each item then reports its own outcome.
Scenario tags work with `-k`; `--crossroads-mode` and `--crossroads-judge` mirror the CLI flags.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crossroads.testing.scenario import SCENARIO_SUFFIXES, LoadError, Scenario, looks_like_scenario_file

if TYPE_CHECKING:
    from crossroads.testing.runner import ScenarioOutcome, ScenarioRunner


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crossroads", "crossroads scenarios")
    group.addoption(
        "--crossroads-mode",
        choices=["auto", "record", "replay", "live"],
        default="auto",
        help="Cassette mode for scenario files (default: replay when a cassette exists).",
    )
    group.addoption("--crossroads-judge", default=None, help="Model spec grading llm-rubric assertions.")
    group.addoption("--crossroads-concurrency", type=int, default=4, help="Scenarios run at the same time.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a crossroads scenario from a YAML file")


def _is_scenario_path(path: Path) -> bool:
    if path.suffix not in SCENARIO_SUFFIXES:
        return False
    named = path.name.endswith((".scenarios.yaml", ".scenarios.yml"))
    return (named or "scenarios" in path.parent.parts) and looks_like_scenario_file(path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario_path(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file collected by pytest."""

    def collect(self) -> Iterator[pytest.Item]:
        from crossroads.testing.scenario import load_file

        scenarios, errors = load_file(self.path)
        for scenario in scenarios:
            item = ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)
            item.extra_keyword_matches.update(scenario.tags)
            item.add_marker("scenario")
            yield item
        for error in errors:
            yield LoadErrorItem.from_parent(self, name=f"{error.scenario or 'file'}[malformed]", error=error)


class ScenarioFailure(Exception):
    """Raised by a scenario item whose assertions failed; carries the outcome."""

    def __init__(self, outcome: ScenarioOutcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.message)


class _Session:
    """The runner and event loop shared by every scenario item of one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        from crossroads.testing.runner import RunOptions, ScenarioRunner

        self.loop = asyncio.Runner()
        self.runner: ScenarioRunner = ScenarioRunner(
            RunOptions(
                concurrency=int(config.getoption("crossroads_concurrency") or 4),
                mode=config.getoption("crossroads_mode") or "auto",
                judge=config.getoption("crossroads_judge"),
            )
        )
        self.outcomes: dict[str, ScenarioOutcome] = {}

    def run_all(self, items: list[ScenarioItem]) -> None:
        pending = [i for i in items if i.nodeid not in self.outcomes]
        outcomes = self.loop.run(self.runner.run([i.scenario for i in pending]))
        for item, outcome in zip(pending, outcomes, strict=True):
            self.outcomes[item.nodeid] = outcome

    def close(self) -> None:
        self.loop.run(self.runner.aclose())
        self.loop.close()


_SESSION = pytest.StashKey[_Session]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_SESSION, None)
    if state is not None:
        state.close()
        del session.config.stash[_SESSION]


class ScenarioItem(pytest.Item):
    """One scenario of a file, run as a pytest item."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        config = self.config
        if _SESSION not in config.stash:
            config.stash[_SESSION] = _Session(config)
        state = config.stash[_SESSION]
        if self.nodeid not in state.outcomes:
            items = [i for i in self.session.items if isinstance(i, ScenarioItem)] or [self]
            state.run_all(items if self in items else [self])
        outcome = state.outcomes[self.nodeid]
        if outcome.status == "skipped":
            pytest.skip(outcome.message)
        if outcome.status != "passed":
            raise ScenarioFailure(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure):
            o = excinfo.value.outcome
            lines = [
                f"scenario {o.id} ({o.status}): {self.scenario.description}".rstrip(": "),
                *(f"  {line}" for line in o.message.splitlines()),
            ]
            lines.append(
                f"  route: {'abstain' if o.abstain else o.route}; path: {' -> '.join(o.handoff_path)}; "
                f"tools: {o.tool_calls}; model requests: {o.requests}"
            )
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario: {self.scenario.id}"


class LoadErrorItem(pytest.Item):
    """A malformed scenario: fails with the loader's message (file, scenario, field); the others still run."""

    def __init__(self, *, error: LoadError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"malformed scenario: {excinfo.value}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"malformed scenario: {self.error.scenario or self.path.name}"
