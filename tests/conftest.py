"""Shared fixtures: an offline orchestrator with a recording fake toolbox, and an isolated environment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from real_parts import missing

from crossroads.tools.models import MathResult, PythonResult, SqlResult
from crossroads.tools.toolbox import Toolbox

PACKAGED_PROMPTS = Path(__file__).resolve().parent.parent / "crossroads" / "prompts"


class FakeToolbox:
    """Records calls and answers like a healthy sandbox would; for tests of everything but the sandbox."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closed = False

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        self.calls.append(("run_python", code))
        return PythonResult(ok=True, stdout="fake output\n", exit_code=0, tier="bwrap")

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        self.calls.append(("check_math", claim))
        return MathResult(verified=False, kind="equality", claim=claim, difference="1", tier="bwrap")

    async def run_sql(self, query: str, tables: Any = None, timeout: float | None = None) -> SqlResult:
        self.calls.append(("run_sql", query))
        return SqlResult(ok=True, columns=["n"], rows=[[1]], row_count=1, tier="bwrap")

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def toolbox() -> AsyncIterator[Toolbox]:
    """A real sandbox toolbox, warm, shared by a test module; skips where no safe tier exists."""
    box = Toolbox()
    await box.start()
    if box.tier == "unavailable":
        missing(f"sandbox tier unavailable here: {box.unavailable_reason}")
    await box.wait_warm(60)
    try:
        yield box
    finally:
        await box.aclose()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No user config, no CROSSROADS_* variables and no provider keys leak into tests."""
    import os

    for key in list(os.environ):
        if key.startswith("CROSSROADS_") or key.endswith("_API_KEY"):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    # One router-model cache for the session: fitting is keyed by its inputs, so sharing is safe and
    # saves a refit in every test that builds an orchestrator.
    monkeypatch.setenv("CROSSROADS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "router-cache"))
    yield


@pytest.fixture
def fake_toolbox() -> FakeToolbox:
    return FakeToolbox()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A real HTTP service on a free loopback port (offline model, fake toolbox): (base URL, orchestrator)."""
    from server_support import running_service, server_settings

    with running_service(server_settings(tmp_path_factory.mktemp("srv")), FakeToolbox()) as pair:
        yield pair
