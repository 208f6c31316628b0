"""The typer app, shared options and the error boundary every command runs inside."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from crossroads.errors import ConfigError, CrossroadsError, InputError

app = typer.Typer(
    name="crossroads",
    help="Route technical questions to specialist agents over a handoff graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every subcommand
)
# emoji=False: rich would turn text such as "openai:x:" into an emoji; user and exception text is shown
# as it is (markup in it is escaped, or printed as `Text`).
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)

# Modules that add their commands to `app` through a `register(app)` function, in help order.
# `COMMAND_OWNERS` lets `main()` import only the module of the command being run, so a fast command
# (e.g. `crossroads route`) does not pay for importing every other command; `--help` imports them all.
COMMAND_MODULES = [
    "crossroads.cli.ask",
    "crossroads.cli.chat",
    "crossroads.cli.route",
    "crossroads.cli.catalog",
    "crossroads.cli.tool",
    "crossroads.cli.traces",
    "crossroads.cli.serve",
    "crossroads.cli.testing",
]

COMMAND_OWNERS = {
    "ask": "crossroads.cli.ask",
    "chat": "crossroads.cli.chat",
    "route": "crossroads.cli.route",
    "agents": "crossroads.cli.catalog",
    "graph": "crossroads.cli.catalog",
    "tool": "crossroads.cli.tool",
    "setup-sandbox": "crossroads.cli.tool",
    "traces": "crossroads.cli.traces",
    "trace": "crossroads.cli.traces",
    "serve": "crossroads.cli.serve",
    "mcp": "crossroads.cli.serve",
    "test": "crossroads.cli.testing",
}

_state: dict[str, Any] = {"debug": False}

CardsOpt = Annotated[
    list[Path] | None,
    typer.Option("--cards", help="Directory of extra or overriding agent cards (repeatable)."),
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="User config file (TOML).")]
GraphOpt = Annotated[Path | None, typer.Option("--graph", help="Handoff graph file (YAML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _show_version(value: bool) -> None:
    if value:
        from crossroads import __version__

        print(f"crossroads {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors (anywhere on the line).")] = False,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="auto | console | json (logs go to stderr).")
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="debug | info | warning | error.")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    _state["log_format"] = log_format
    _state["log_level"] = log_level


def log_overrides() -> dict[str, Any]:
    """Logging flags given to the root command, as settings overrides."""
    return {"log_format": _state.get("log_format"), "log_level": _state.get("log_level")}


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, `error: <message>`, and exit `code`; the message is shown literally, redacted.

    It is a `Text`, never parsed as markup or emoji codes: `[bold]` or `openai:x:` in a file name, a
    model spec or an exception's text stay as they are.
    """
    from rich.text import Text

    from crossroads.redact import redact

    line = Text("error: ", style="bold red")
    line.append(redact(message))
    err.print(line, highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit_codes() -> Iterator[None]:
    """Turn crossroads errors into one-line messages: exit 2 for bad input/config, 1 for run failures."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except ConfigError as exc:
        if _state["debug"]:
            err.print_exception()
        fail(str(exc), 2)
    except CrossroadsError as exc:
        if _state["debug"]:
            err.print_exception()
        fail(str(exc), 1)
    except Exception as exc:  # the last line of defence: never a raw traceback without --debug
        if _state["debug"]:
            err.print_exception()
        fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of `errors_to_exit_codes` for command functions."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors_to_exit_codes():
            return fn(*args, **kwargs)

    return wrapper


def read_text_arg(value: str, what: str = "the question") -> str:
    """`value`, or stdin for `-`; InputError (exit 2) for text that is not valid UTF-8, before any work.

    Python turns undecodable command-line bytes into lone surrogates, which fail only much later (when
    the answer or the trace is encoded); stdin is read as bytes and decoded strictly for the same reason.
    """
    if value == "-":
        return read_stdin_text(f"{what} on stdin")
    check_text(value, what)
    return value


def read_stdin_text(what: str) -> str:
    """All of stdin as UTF-8 text; InputError naming the first byte that is not UTF-8."""
    from crossroads.text.validity import decode_utf8

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (some embedders): it is decoded already
        text = sys.stdin.read()
        check_text(text, what)
        return text
    try:
        return decode_utf8(buffer.read(), what)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def check_text(value: str | None, what: str) -> None:
    """InputError when a command-line value holds bytes that were not UTF-8 (or lone surrogates)."""
    from crossroads.text.validity import find_bad_text

    found = find_bad_text(value) if value is not None else None
    if found is None:
        return
    if 0xDC80 <= found.codepoint <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        raise InputError(
            f"{what}: not valid UTF-8 (byte 0x{found.codepoint - 0xDC00:02x} at character {found.index});"
            " pass the text as UTF-8"
        )
    raise InputError(found.describe(what))


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


ROOT_FLAGS = {"--debug"}
ROOT_OPTIONS = {"--log-format", "--log-level"}
"""Root options that take a value; with the flags above they are accepted anywhere on the line."""


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not a root option)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ROOT_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def hoist_root_options(argv: list[str]) -> list[str]:
    """`argv` with root options found after the subcommand moved before it (`crossroads ask Q --debug`).

    Everything after `--` is left alone, so a question that is literally "--debug" can still be asked.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if arg in ROOT_FLAGS:
            front.append(arg)
        elif name in ROOT_OPTIONS and "=" in arg:
            front.append(arg)
        elif arg in ROOT_OPTIONS and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    # The CLI owns its terminal output: no first-run banner from pydantic-ai between progress and answer.
    os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")
    for stream in (sys.stdout, sys.stderr):  # text that cannot be encoded is escaped, never a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    argv = hoist_root_options(sys.argv[1:])
    module = COMMAND_OWNERS.get(_command_in(argv) or "")
    if module is None or argv[:1] in (["--help"], ["-h"]):
        _register_all()
    else:
        importlib.import_module(module).register(app)
    app(args=argv, prog_name="crossroads")
