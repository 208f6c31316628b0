"""Issue 17.2 and 17.5 in the CLI, through real processes (real argv bytes, real stdin, real exit codes)."""

from __future__ import annotations

import json
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


# -- 17.5: exit codes, one-line errors, options ----------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00\x01binary")
    (root / "empty").mkdir()
    (root / "binary.yaml").write_bytes(b"\xff\xfe tests:\n")
    return root


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("route", "hi", "--config", "{d}/binary.toml"), {}, "binary.toml: not a TOML file (not UTF-8 text"),
        (("ask", "hi"), {"CROSSROADS_CONFIG": "{d}/binary.toml"}, "binary.toml: not a TOML file"),
        (("route", "hi"), {"CROSSROADS_CARDS": "/missing"}, "environment variable CROSSROADS_CARDS"),
        (("ask", "hi"), {"CROSSROADS_CARDS": '["/missing"]'}, "/missing: cards directory does not exist"),
        (("route", "hi"), {"CROSSROADS_ROUTER": "abc"}, "CROSSROADS_ROUTER__MODE=..."),
        (("serve", "--port", "-1"), {}, "--port must be between 0 and 65535, not -1"),
        (("serve", "--workers", "0"), {}, "--workers must be between 1 and 64, not 0"),
        (("test", "{d}/empty"), {}, "no scenarios found in"),
        (("test", "scenarios", "-k", "no-such-scenario-anywhere"), {}, "matches the selection"),
        (("ask", "hi", "--model", "openai:x:"), {}, "model 'openai:x:' needs an API key"),  # no emoji
        (("ask", "hi", "--config", "{d}/[bold]x[/].toml"), {}, "[bold]x[/].toml: cannot read"),  # no markup
    ],
)
def test_bad_input_and_configuration_is_exit_2_with_one_line(
    files: Path, args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    result = crossroads(*(a.format(d=files) for a in args), env={k: v.format(d=files) for k, v in env.items()})
    one_line_error(result, 2, needle)
    assert "SettingsError" not in result.stderr and "UnicodeDecodeError" not in result.stderr
    assert "serving on" not in result.stderr


def test_binary_scenario_file_is_malformed_exit_2(files: Path) -> None:
    result = crossroads("test", str(files / "binary.yaml"))
    assert result.returncode == 2, result.stderr
    assert "binary.yaml: not a scenario file (not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_taken_port_is_exit_2_and_never_announced() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = crossroads("serve", "--port", str(port), env={"CROSSROADS_TRACE_DB": "off"})
    one_line_error(result, 2, f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "serving on" not in result.stderr


def test_version_and_short_help_everywhere() -> None:
    from crossroads import __version__

    version = crossroads("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"crossroads {__version__}"
    for args in (("-h",), ("ask", "-h"), ("route", "-h"), ("tool", "python", "-h"), ("serve", "-h"), ("test", "-h")):
        result = crossroads(*args)
        assert result.returncode == 0 and "Usage: crossroads" in result.stdout, (args, result.stderr)


def test_root_options_anywhere_on_the_line() -> None:
    late = crossroads("route", "How do I shard Postgres?", "--json", "--debug", "--log-level", "info")
    assert late.returncode == 0, late.stderr
    assert json.loads(late.stdout)["targets"]
    failing = crossroads("ask", "hi", "--debug", env={"CROSSROADS_ROUTER": "abc"})
    assert failing.returncode == 2 and "Traceback" in failing.stderr  # --debug after the command took effect


def test_hoisting_keeps_what_follows_a_double_dash() -> None:
    from crossroads.cli.app import hoist_root_options

    assert hoist_root_options(["ask", "q", "--debug", "--log-format=json", "--log-level", "info"]) == [
        "--debug",
        "--log-format=json",
        "--log-level",
        "info",
        "ask",
        "q",
    ]
    assert hoist_root_options(["ask", "--", "--debug"]) == ["ask", "--", "--debug"]
