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

from crossroads.errors import ConfigError, CrossroadsError

app = typer.Typer(
    name="crossroads",
    help="Route technical questions to specialist agents over a handoff graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

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


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="auto | console | json (logs go to stderr).")
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="debug | info | warning | error.")] = None,
) -> None:
    _state["debug"] = debug
    _state["log_format"] = log_format
    _state["log_level"] = log_level


def log_overrides() -> dict[str, Any]:
    """Logging flags given to the root command, as settings overrides."""
    return {"log_format": _state.get("log_format"), "log_level": _state.get("log_level")}


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
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
        fail(_escape(str(exc)), 2)
    except CrossroadsError as exc:
        if _state["debug"]:
            err.print_exception()
        fail(_escape(str(exc)), 1)
    except Exception as exc:  # the last line of defence: never a raw traceback without --debug
        if _state["debug"]:
            err.print_exception()
        fail(_escape(f"{type(exc).__name__}: {exc}") + " (run with --debug for the traceback)", 1)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of `errors_to_exit_codes` for command functions."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors_to_exit_codes():
            return fn(*args, **kwargs)

    return wrapper


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def read_text_arg(value: str) -> str:
    """`-` reads the value from stdin."""
    return sys.stdin.read() if value == "-" else value


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first argument that is not a root option)."""
    takes_value = {"--log-format", "--log-level"}
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    # The CLI owns its terminal output: no first-run banner from pydantic-ai between progress and answer.
    os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")
    module = COMMAND_OWNERS.get(_command_in(sys.argv[1:]) or "")
    if module is None or "--help" in sys.argv[1:2]:
        _register_all()
    else:
        importlib.import_module(module).register(app)
    app()
