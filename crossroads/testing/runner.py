"""Run scenarios concurrently and judge them.

One `Orchestrator` is built per distinct scenario config and reused by every scenario with that config;
orchestrators with the same sandbox settings share one `Toolbox`, so the warm sandbox pool starts once.
Record/replay is per scenario: the scenario's cassette is active in its task's context while it asks.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from crossroads.errors import CrossroadsError
from crossroads.testing.assertions import AssertionResult, Grade, Judge, Observation, evaluate
from crossroads.testing.scenario import LoadError, Scenario

if TYPE_CHECKING:
    from crossroads.config import Settings
    from crossroads.orchestrator import Orchestrator
    from crossroads.result import AskResult
    from crossroads.tools.base import SandboxTools
    from crossroads.tools.models import MathResult, PythonResult, SqlResult

Mode = Literal["auto", "record", "replay", "live"]
Status = Literal["passed", "failed", "error", "skipped"]
REPLAY_PLACEHOLDER_KEY = "replay-placeholder-key"


class ScenarioOutcome(BaseModel):
    """How one scenario went, with enough of the trace to see why."""

    id: str
    file: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    status: Status
    message: str = ""
    """The runtime error, the skip reason, or the failed assertions' messages."""
    duration_ms: float = 0.0
    assertions: list[AssertionResult] = Field(default_factory=list)
    route: list[str] = Field(default_factory=list)
    abstain: bool = False
    handoff_path: list[str] = Field(default_factory=list)
    tool_calls: list[str] = Field(default_factory=list)
    requests: int = 0
    tokens: int = 0
    answer: str = ""
    cassette: str | None = None
    replayed: bool = False


@dataclass
class Report:
    """Every outcome of one run plus the files or scenarios that did not load."""

    outcomes: list[ScenarioOutcome] = field(default_factory=list)
    load_errors: list[LoadError] = field(default_factory=list)
    duration_s: float = 0.0
    mode: Mode = "auto"

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """2 when a scenario file is malformed, else 1 when a scenario failed or errored, else 0."""
        if self.load_errors:
            return 2
        return 1 if self.count("failed") or self.count("error") else 0


@dataclass
class RunOptions:
    """How `crossroads test` runs: concurrency, replay mode, config and filters."""

    concurrency: int = 4
    mode: Mode = "auto"
    config_file: Path | None = None
    judge: str | None = None
    """Model spec of the `llm-rubric` judge; None or `offline` skips rubric assertions."""
    http_transport: Any = None
    """Replaces the network of real providers (record against a mock server); replay always blocks it."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Settings overrides applied under every scenario's own config (e.g. from CLI flags)."""


class _SharedToolbox:
    """A toolbox several orchestrators use; their `aclose` leaves it open, the runner closes it."""

    def __init__(self, toolbox: SandboxTools) -> None:
        self._toolbox = toolbox

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        return await self._toolbox.run_python(code, timeout)

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        return await self._toolbox.check_math(claim, timeout)

    async def run_sql(
        self, query: str, tables: dict[str, list[dict[str, Any]]] | None = None, timeout: float | None = None
    ) -> SqlResult:
        return await self._toolbox.run_sql(query, tables, timeout)

    async def aclose(self) -> None:
        return None


class _NoNetwork:
    """The HTTP transport of replay mode: any request that reaches the network layer is refused."""

    async def handle_async_request(self, request: Any) -> Any:
        from crossroads.testing.cassette import CassetteMiss

        raise CassetteMiss(f"replay: network access is blocked ({request.method} {request.url})")

    async def aclose(self) -> None:
        return None


def _as_transport(obj: Any) -> Any:
    import httpx2

    class Transport(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            return await obj.handle_async_request(request)

    return Transport()


class ScenarioRunner:
    """Runs scenarios with shared orchestrators; use as an async context manager (or call `aclose`)."""

    def __init__(self, options: RunOptions | None = None) -> None:
        self.options = options or RunOptions()
        self._orchestrators: dict[str, Orchestrator] = {}
        self._toolboxes: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._judge: Judge | None = None
        self._judge_orchestrator: Orchestrator | None = None
        self._judge_reason = "no judge model is configured (set --judge or CROSSROADS_JUDGE to a real model)"

    async def __aenter__(self) -> ScenarioRunner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        async with AsyncExitStack() as stack:
            for orchestrator in self._orchestrators.values():
                stack.push_async_callback(orchestrator.aclose)
            for toolbox in self._toolboxes.values():
                stack.push_async_callback(toolbox.aclose)
            if self._judge_orchestrator is not None:
                stack.push_async_callback(self._judge_orchestrator.aclose)
        self._orchestrators.clear()
        self._toolboxes.clear()

    # -- orchestrators -------------------------------------------------------------------------------

    def settings_for(self, scenario: Scenario) -> Settings:
        from crossroads.config import load_settings

        overrides = _deep_merge(self.options.overrides, scenario.config.overrides())
        return load_settings(self.options.config_file, **overrides)

    async def orchestrator(self, scenario: Scenario) -> Orchestrator:
        settings = self.settings_for(scenario)
        key = settings.model_dump_json()
        async with self._lock:
            if key not in self._orchestrators:
                self._orchestrators[key] = self._build(settings)
            return self._orchestrators[key]

    def _build(self, settings: Settings) -> Orchestrator:
        from crossroads.orchestrator import Orchestrator
        from crossroads.testing.cassette import cassette_wrapper
        from crossroads.tools import Toolbox

        box_key = settings.sandbox.model_dump_json()
        if box_key not in self._toolboxes:
            self._toolboxes[box_key] = Toolbox(settings.sandbox)
        transport = _as_transport(_NoNetwork()) if self.options.mode == "replay" else self.options.http_transport
        with self._placeholder_keys():
            return Orchestrator(
                settings,
                toolbox=_SharedToolbox(self._toolboxes[box_key]),
                http_transport=transport,
                model_wrapper=cassette_wrapper,
            )

    @contextmanager
    def _placeholder_keys(self) -> Iterator[None]:
        """Replay needs no real key: hosted providers get a placeholder so building their models works."""
        from crossroads.providers.specs import KEY_ENV

        added = []
        if self.options.mode == "replay":
            for var in KEY_ENV.values():
                if not os.environ.get(var):
                    os.environ[var] = REPLAY_PLACEHOLDER_KEY
                    added.append(var)
        try:
            yield
        finally:
            for var in added:
                os.environ.pop(var, None)

    # -- running -------------------------------------------------------------------------------------

    async def run(
        self, scenarios: list[Scenario], on_done: Callable[[ScenarioOutcome], None] | None = None
    ) -> list[ScenarioOutcome]:
        """Every scenario, at most `concurrency` at a time; outcomes in input order."""
        gate = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(scenario: Scenario) -> ScenarioOutcome:
            async with gate:
                outcome = await self.run_one(scenario)
            if on_done is not None:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in scenarios)))

    async def run_one(self, scenario: Scenario) -> ScenarioOutcome:
        base = {
            "id": scenario.id,
            "file": str(scenario.file),
            "description": scenario.description,
            "tags": scenario.tags,
        }
        if scenario.skip:
            return ScenarioOutcome(**base, status="skipped", message=scenario.skip)
        t0 = time.perf_counter()
        try:
            orchestrator = await self.orchestrator(scenario)
        except CrossroadsError as exc:
            return ScenarioOutcome(**base, status="error", message=f"cannot build the orchestrator: {exc}")
        cassette = self._cassette(scenario, orchestrator)
        result: AskResult | None = None
        error: BaseException | None = None
        try:
            if cassette is not None:
                async with cassette.active():
                    result = await orchestrator.ask(scenario.prompt, agent=scenario.agent)
            else:
                result = await orchestrator.ask(scenario.prompt, agent=scenario.agent)
        except CrossroadsError as exc:
            error, result = exc, getattr(exc, "partial", None)
        except Exception as exc:  # a bug or an unexpected library error: report it, keep running the others
            error = exc
        if cassette is not None and cassette.mode == "record":
            cassette.save()
        elapsed = round((time.perf_counter() - t0) * 1000, 1)
        outcome = ScenarioOutcome(**base, status="passed", duration_ms=elapsed, **_trace_summary(result))
        if cassette is not None:
            outcome.cassette, outcome.replayed = str(cassette.path), cassette.mode == "replay"
        if cassette is not None and cassette.misses:
            outcome.status, outcome.message = "error", cassette.misses[0]
            return outcome
        obs = Observation(
            question=scenario.prompt,
            result=result,
            error=error,
            judge=await self._get_judge(),
            judge_unavailable=self._judge_reason,
        )
        outcome.assertions = [await evaluate(a, obs) for a in scenario.assertions]
        expects_error = any(a.base_type == "error" and not a.negated for a in scenario.assertions) or any(
            a.type == "status" and a.value == "error" for a in scenario.assertions
        )
        failed = [r for r in outcome.assertions if not r.passed]
        if error is not None and not expects_error:
            outcome.status = "error"
            outcome.message = f"the ask failed: {type(error).__name__}: {error}"
        elif failed:
            outcome.status = "failed"
            outcome.message = "\n".join(r.message for r in failed)
        elif all(r.skipped for r in outcome.assertions):
            outcome.status = "skipped"
            outcome.message = "; ".join(r.message for r in outcome.assertions)
        return outcome

    def _cassette(self, scenario: Scenario, orchestrator: Orchestrator) -> Any:
        from crossroads.testing.cassette import Cassette, cassette_path

        mode = self.options.mode
        if mode == "live" or not _uses_remote_model(orchestrator):
            return None
        path = cassette_path(scenario.file, scenario.id)
        if mode == "record":
            return Cassette(path=path, scenario=scenario.id, mode="record")
        if mode == "replay" or path.is_file():
            return Cassette.load(path, scenario.id)
        return None

    # -- the llm-rubric judge ------------------------------------------------------------------------

    async def _get_judge(self) -> Judge | None:
        spec = self.options.judge or os.environ.get("CROSSROADS_JUDGE")
        if not spec or spec == "offline":
            return None
        if self._judge is None:
            self._judge = self._build_judge(spec)
        return self._judge

    def _build_judge(self, spec: str) -> Judge:
        from pydantic_ai import Agent

        from crossroads.config import load_settings
        from crossroads.orchestrator import Orchestrator
        from crossroads.testing.cassette import cassette_wrapper

        settings = load_settings(self.options.config_file, models={"judge": spec})
        judges = Orchestrator(settings, model_wrapper=cassette_wrapper, http_transport=self.options.http_transport)
        self._judge_orchestrator = judges
        agent: Agent[None, Grade] = Agent(
            judges.models.for_role("judge"),
            output_type=Grade,
            instructions=(
                "You grade an answer against a rubric. Return passed=true only if the answer satisfies the rubric;"
                " score from 0 (not at all) to 1 (fully); reason: one or two sentences."
            ),
        )

        async def judge(question: str, answer: str, rubric: str) -> Grade:
            prompt = f"Question:\n{question}\n\nAnswer:\n{answer}\n\nRubric:\n{rubric}"
            return (await agent.run(prompt)).output

        return judge


def _uses_remote_model(orchestrator: Orchestrator) -> bool:
    specs = [*orchestrator.models.describe().values(), *orchestrator.settings.fallback]
    return any(spec != "offline" for spec in specs)


def _trace_summary(result: AskResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    summary = result.summary()
    return {
        "route": summary.route,
        "abstain": summary.abstain,
        "handoff_path": summary.handoff_path,
        "tool_calls": summary.tool_calls,
        "requests": summary.requests,
        "tokens": summary.total_tokens,
        "answer": result.answer[:2000],
    }


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base, default=str))
    for key, value in top.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
