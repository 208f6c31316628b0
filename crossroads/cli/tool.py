"""`crossroads tool ...`: run the sandboxed tools by hand (JSON on stdout), and `crossroads setup-sandbox`.

Exit codes: 0 when the tool ran (whatever the snippet did), 2 on bad input, 1 when the sandbox is
unavailable. Each tool is one small command on the `tool` sub-app; `_run_tool` does the shared part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossroads.cli.app import ConfigOpt, err, guarded, out, read_stdin_text, read_text_arg
from crossroads.errors import InputError, ToolUnavailable

if TYPE_CHECKING:
    from pydantic import BaseModel

    from crossroads.tools.toolbox import Toolbox

tool_app = typer.Typer(name="tool", help="Run a sandboxed tool and print its result as JSON.", no_args_is_help=True)

TimeoutOpt = Annotated[float | None, typer.Option("--timeout", min=0.01, max=300, help="Wall-clock limit in seconds.")]


def _read_source(file: Path | None) -> str:
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{file}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{file}: not UTF-8 text") from None
    else:
        text = read_stdin_text("the code on stdin")
    if not text.strip():
        raise InputError("no code given (pass --file F or pipe code on stdin)")
    return text


def _run_tool(config: Path | None, call: Callable[[Toolbox], Awaitable[BaseModel]]) -> None:
    """Start a toolbox, run one call, print the result; fail with exit 1 when nothing can run."""
    from crossroads.cli.common import settings_from_flags
    from crossroads.tools.toolbox import Toolbox

    settings = settings_from_flags(config)

    async def main() -> BaseModel:
        toolbox = Toolbox(settings.sandbox.model_copy(update={"pool_size": 0}))
        try:
            await toolbox.start()
            return await call(toolbox)  # an unavailable toolbox returns a result saying why
        finally:
            await toolbox.aclose()

    result: Any = asyncio.run(main())
    out.print_json(result.model_dump_json())
    if getattr(result, "tier", None) == "unavailable":
        raise ToolUnavailable(getattr(result, "error", None) or "code execution unavailable")


@tool_app.command("python")
@guarded
def python_cmd(
    timeout: TimeoutOpt = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the code from this file.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run Python code (stdin by default) in the sandbox."""
    source = _read_source(file)
    _run_tool(config, lambda tb: tb.run_python(source, timeout=timeout))


@tool_app.command("math")
@guarded
def math_cmd(
    claim: Annotated[str, typer.Argument(help="The claim, e.g. 'd/dx x**3 = 3*x**2'; - reads it from stdin.")],
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check a math claim with sympy in the sandbox (verified true / false / null)."""
    text = read_text_arg(claim, "the claim")
    if not text.strip():
        raise InputError("empty claim")
    _run_tool(config, lambda tb: tb.check_math(text, timeout=timeout))


def _load_tables(path: Path | None) -> dict[str, list[dict[str, Any]]]:
    import json

    from crossroads.tools.sql import validate_tables

    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    return validate_tables(data)


@tool_app.command("sql")
@guarded
def sql_cmd(
    query: Annotated[str, typer.Argument(help="SQL to run; - or omitted reads it from stdin.")] = "-",
    tables: Annotated[
        Path | None,
        typer.Option("--tables", help='JSON file of inline tables: {"name": [{"col": value, ...}, ...]}.'),
    ] = None,
    timeout: TimeoutOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run SQL against an in-memory SQLite database in the sandbox (the last statement's rows)."""
    data = _load_tables(tables)
    text = read_text_arg(query, "the query")
    if not text.strip():
        raise InputError("no SQL given (pass a query or pipe it on stdin)")
    _run_tool(config, lambda tb: tb.run_sql(text, data, timeout=timeout))


@guarded
def setup_sandbox(
    runtime: Annotated[
        Path | None, typer.Option("--runtime", help="Where to build the runtime (default from settings).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when up to date.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Build the sandbox runtime (a venv of the system Python with sympy, numpy, pyseccomp); idempotent."""
    from crossroads.cli.common import settings_from_flags
    from crossroads.tools.runtime import build_runtime

    settings = settings_from_flags(config)
    path = build_runtime(runtime or settings.sandbox.runtime, force=force)
    err.print(f"sandbox runtime ready at {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(tool_app)
    app.command("setup-sandbox")(setup_sandbox)
