"""Issue 17.2 and 17.5 in the CLI, through real processes (real argv bytes, real stdin, real exit codes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from reliability_support import DEFAULTS, ROOT, cli_command

QUESTION = "How do I profile a slow Python loop?"


def crossroads(
    *args: str | bytes, stdin: bytes = b"", prelude: str = "", env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; bytes arguments reach argv as is (undecodable ones too)."""
    command: list[str | bytes] = [*cli_command(prelude=prelude), *args]
    full_env = {**os.environ, "CROSSROADS_CONFIG": str(DEFAULTS), "CROSSROADS_TRACE_DB": "off", "COLUMNS": "200"}
    full_env.update(env or {})
    done = subprocess.run(command, input=stdin, capture_output=True, env=full_env, cwd=str(ROOT), timeout=timeout)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


# -- 17.2: undecodable text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        ((b"ask", b"caf\xff?"), b"", "the question: not valid UTF-8 (byte 0xff at character 3)"),
        (("ask", "-"), b"caf\xe9 latte", "the question on stdin: not valid UTF-8 (byte 0xe9"),
        ((b"ask", QUESTION.encode(), b"--agent", b"data\xff"), b"", "--agent: not valid UTF-8"),
        ((b"route", b"\xff\xfe"), b"", "the question: not valid UTF-8 (byte 0xff at character 0)"),
        (("route", "-"), b"\xc3\x28", "the question on stdin: not valid UTF-8"),
        (("tool", "python"), b"print(1)\xff", "the code on stdin: not valid UTF-8 (byte 0xff at offset 8)"),
        ((b"tool", b"math", b"x\xff = 1"), b"", "the claim: not valid UTF-8"),
    ],
)
def test_undecodable_text_is_exit_2_before_any_work(args: tuple[str | bytes, ...], stdin: bytes, needle: str) -> None:
    # A patched ask proves no work starts: reaching it would print "ASKED" and exit 1.
    prelude = (
        "from crossroads.orchestrator import Orchestrator\n"
        "async def _ask(self, *a, **k):\n    print('ASKED'); raise SystemExit(1)\n"
        "Orchestrator.ask = _ask\n"
    )
    result = crossroads(*args, stdin=stdin, prelude=prelude)
    one_line_error(result, 2, needle)
    assert "ASKED" not in result.stdout


def test_the_answer_is_printed_before_a_failure_after_it(tmp_path: Path) -> None:
    """A failure after the answer (closing the orchestrator flushes the trace store) keeps the answer."""
    prelude = (
        "from crossroads.orchestrator import Orchestrator\n"
        "async def _broken_close(self):\n    raise OSError('disk full while flushing traces')\n"
        "Orchestrator.aclose = _broken_close\n"
    )
    for extra in ((), ("--json",)):
        env = {"CROSSROADS_TRACE_DB": str(tmp_path / "t.db")}
        result = crossroads("ask", QUESTION, *extra, prelude=prelude, env=env)
        assert result.returncode == 1, result.stderr
        assert "disk full" in result.stderr
        assert "profil" in result.stdout.lower(), result.stdout  # the answer made it out
