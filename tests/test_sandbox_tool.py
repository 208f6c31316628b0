"""run_python on benign code, the pool, failing closed, the runtime set-up and the `tool python` CLI."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import last_line, require_sandbox_host, started_toolbox, uid_processes
from typer.testing import CliRunner

from crossroads.config import SandboxSettings
from crossroads.tools import PythonResult, Toolbox
from crossroads.tools import toolbox as toolbox_module

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def toolbox() -> Iterator[Toolbox]:
    yield from started_toolbox()


async def test_active_tier_is_bwrap(toolbox: Toolbox) -> None:
    assert toolbox.tier == "bwrap"
    result = await toolbox.run_python("print('hello')")
    assert result == PythonResult(ok=True, stdout="hello\n", exit_code=0, duration_ms=result.duration_ms, tier="bwrap")


async def test_exception_is_a_clear_error_without_runner_frames(toolbox: Toolbox) -> None:
    result = await toolbox.run_python("def f(x):\n    return 1 / x\n\nprint('before')\nf(0)")
    assert not result.ok and result.exit_code == 1 and result.stdout == "before\n"
    assert result.error is not None
    assert result.error.splitlines()[0] == "ZeroDivisionError: division by zero"
    assert 'File "<snippet>", line 5, in <module>' in result.error
    assert 'File "<snippet>", line 2, in f' in result.error
    assert "<string>" not in result.error and "exec(" not in result.error and "_runner" not in result.error
    assert result.stderr.startswith("Traceback (most recent call last):")


async def test_syntax_error_is_reported(toolbox: Toolbox) -> None:
    result = await toolbox.run_python("print(1 +)")
    assert not result.ok and result.exit_code == 1
    assert result.error is not None and result.error.splitlines()[-1].startswith("SyntaxError")


async def test_sys_exit_codes(toolbox: Toolbox) -> None:
    zero, three = await asyncio.gather(
        toolbox.run_python("import sys; print('x'); sys.exit(0)"), toolbox.run_python("raise SystemExit(3)")
    )
    assert zero.ok and zero.exit_code == 0 and zero.error is None
    assert not three.ok and three.exit_code == 3 and three.error == "the program exited with status 3"


async def test_sympy_and_numpy(toolbox: Toolbox) -> None:
    code = (
        "import sympy, numpy as np\nx = sympy.Symbol('x')\n"
        "print(sympy.simplify(sympy.sin(x)**2 + sympy.cos(x)**2), sympy.diff(x**3, x))\n"
        "print(np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])).round(6))"
    )
    result = await toolbox.run_python(code)
    assert result.ok, result
    assert result.stdout.splitlines() == ["1 3*x**2", "5.0"]


async def test_half_second_snippet_completes(toolbox: Toolbox) -> None:
    result = await toolbox.run_python("import time\ntime.sleep(0.5)\nprint('done')", timeout=3)
    assert result.ok and result.stdout == "done\n" and not result.timed_out
    assert 500 <= result.duration_ms < 3000


async def test_unicode_and_stdin(toolbox: Toolbox) -> None:
    result = await toolbox.run_python("import sys\nprint('héllo ✓', repr(sys.stdin.read()))")
    assert result.ok and result.stdout == "héllo ✓ ''\n"


async def test_pooled_sandbox_has_preloads_and_cold_one_does_not(toolbox: Toolbox) -> None:
    assert await toolbox.wait_warm(30)
    code = "import sys; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    pooled = await toolbox.run_program(code)
    cold = await toolbox.run_program(code, pooled=False)
    assert pooled.stdout == "True True\n"
    assert cold.stdout == "False False\n"


async def test_concurrent_calls_get_distinct_uids(toolbox: Toolbox) -> None:
    results = await asyncio.gather(
        *(toolbox.run_python("import os, time; time.sleep(0.3); print(os.getuid())") for _ in range(4))
    )
    uids = [int(last_line(r)) for r in results]
    assert all(r.ok for r in results) and len(set(uids)) == 4 and min(uids) >= 61000


async def test_timeout_longer_than_the_pool_default(toolbox: Toolbox) -> None:
    result = await toolbox.run_python("print('ok')", timeout=20)
    assert result.ok and result.stdout == "ok\n"


async def test_start_twice_and_aclose_leaves_nothing() -> None:
    require_sandbox_host()
    box = Toolbox(SandboxSettings(pool_size=2))
    await box.start()
    await box.start()
    assert box.tier == "bwrap"
    assert await box.wait_warm(30)
    pool_uids = [s.uid for s in box._pool._entries]  # type: ignore[union-attr]
    assert len(pool_uids) == 2 and all(uid_processes(uid) for uid in pool_uids)
    await box.aclose()
    assert [uid for uid in pool_uids if uid_processes(uid)] == []
    assert box.tier == "unavailable"


# -- failing closed ---------------------------------------------------------------------------------


async def test_missing_runtime_fails_closed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    box = Toolbox(SandboxSettings(runtime=tmp_path / "no-runtime"))
    result = await box.run_python(f"open({str(marker)!r}, 'w').write('x')")
    assert result.tier == "unavailable" and not result.ok and result.exit_code is None
    assert result.error is not None and result.error.startswith("code execution unavailable: no sandbox runtime")
    assert not marker.exists()  # nothing ran, in the sandbox or in-process


async def test_not_root_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolbox_module.os, "geteuid", lambda: 1000)
    box = Toolbox(SandboxSettings())
    result = await box.run_python("print(1)")
    assert result.tier == "unavailable" and result.stdout == ""
    assert "must run as root" in (result.error or "")


async def test_missing_bwrap_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolbox_module, "find_bwrap", lambda: None)
    box = Toolbox(SandboxSettings())
    await box.start()
    assert box.tier == "unavailable" and "bubblewrap is not installed" in box.unavailable_reason
    result = await box.run_program("print(1)")
    assert result.error == f"code execution unavailable: {box.unavailable_reason}"


# -- runtime set-up ---------------------------------------------------------------------------------


def test_setup_is_idempotent_and_fast_when_built() -> None:
    require_sandbox_host()
    from crossroads.tools.runtime import DEFAULT_RUNTIME, build_runtime, is_built

    build_runtime()
    start = time.monotonic()
    assert build_runtime() == DEFAULT_RUNTIME
    assert time.monotonic() - start < 2.0
    assert is_built(DEFAULT_RUNTIME)


# -- CLI --------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> CliRunner:
    require_sandbox_host()
    return CliRunner()


def _invoke(cli: CliRunner, *args: str, input: str | None = None):
    from crossroads.cli import app as cli_app

    if not any(g.name == "tool" for g in cli_app.app.registered_groups):
        cli_app._register_all()
    return cli.invoke(cli_app.app, list(args), input=input)


def test_cli_tool_python_from_stdin(cli: CliRunner) -> None:
    res = _invoke(cli, "tool", "python", "--timeout", "5", input="print(6 * 7)\n1/0\n")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["stdout"] == "42\n" and data["ok"] is False and data["tier"] == "bwrap"
    assert data["error"].startswith("ZeroDivisionError")


def test_cli_tool_python_from_file(cli: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("print('from file')\n")
    res = _invoke(cli, "tool", "python", "--file", str(script))
    assert res.exit_code == 0 and json.loads(res.stdout)["stdout"] == "from file\n"


def test_cli_bad_input_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    assert _invoke(cli, "tool", "python", input="  \n").exit_code == 2
    assert _invoke(cli, "tool", "python", "--file", str(tmp_path / "missing.py")).exit_code == 2


def test_cli_unavailable_exits_1(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSROADS_SANDBOX__RUNTIME", str(tmp_path / "none"))
    res = _invoke(cli, "tool", "python", input="print(1)")
    assert res.exit_code == 1, (res.stdout, res.stderr, res.exception)
    assert res.stdout, (res.stdout, res.stderr, res.exception)
    data = json.loads(res.stdout)
    assert data["tier"] == "unavailable" and data["error"].startswith("code execution unavailable")
