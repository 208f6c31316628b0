"""`crossroads test`: run scenario files, print a summary, write JUnit XML and a JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossroads.cli.app import ConfigOpt, err, guarded, log_overrides
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags

if TYPE_CHECKING:
    from crossroads.testing.runner import RunOptions, ScenarioOutcome
    from crossroads.testing.scenario import Scenario


def register(app: typer.Typer) -> None:
    app.command("test")(test)


@guarded
def test(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Scenario files or directories (default: scenarios/).")
    ] = None,
    keyword: Annotated[
        str | None,
        typer.Option("-k", help="Select by id/file/description/tag substrings, with and/or/not (like pytest -k)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only scenarios with this tag (repeatable).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-n", min=1, max=64, help="Scenarios run at the same time.")
    ] = 4,
    record: Annotated[bool, typer.Option("--record", help="Call the real providers and (re)write cassettes.")] = False,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Serve every real-model request from cassettes; "
            "a missing recording fails (default: replay when a cassette exists).",
        ),
    ] = False,
    live: Annotated[bool, typer.Option("--live", help="Ignore cassettes and call the real providers.")] = False,
    judge: Annotated[str | None, typer.Option("--judge", help="Model spec grading llm-rubric assertions.")] = None,
    config: ConfigOpt = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the selected scenarios and exit.")] = False,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Run scenario regression tests (YAML) against the orchestrator."""
    if sum((record, replay, live)) > 1:
        from crossroads.errors import InputError

        raise InputError("--record, --replay and --live exclude each other")
    import asyncio
    import time

    from crossroads.logs import configure_logging
    from crossroads.testing.report import json_report, junit_xml, print_summary
    from crossroads.testing.runner import Report, RunOptions
    from crossroads.testing.scenario import load_paths
    from crossroads.testing.select import select

    configure_logging(log_overrides().get("log_format") or "console", log_overrides().get("log_level") or "error")
    mode = "record" if record else "replay" if replay else "live" if live else "auto"
    t0 = time.perf_counter()
    scenarios, load_errors = load_paths(paths or [Path("scenarios")])
    chosen = select(scenarios, keyword, tag or [])
    if not chosen and not load_errors:  # nothing ran is not a pass (a wrong folder, a -k typo)
        from crossroads.errors import InputError

        where = ", ".join(str(p) for p in paths or [Path("scenarios")])
        if scenarios:
            raise InputError(f"no scenario in {where} matches the selection (-k / --tag)")
        raise InputError(f"no scenarios found in {where} (YAML files with a top-level 'tests:' list)")
    if list_only:
        for s in chosen:
            print(f"{s.file}::{s.id}\t{','.join(s.tags)}\t{s.description}")
        for e in load_errors:
            err.print(f"malformed: {e}", highlight=False, markup=False)
        raise typer.Exit(2 if load_errors else 0)
    overrides = {k: v for k, v in card_flags(strict, no_builtin).items() if v is not None}
    options = RunOptions(concurrency=concurrency, mode=mode, config_file=config, judge=judge, overrides=overrides)
    report = Report(load_errors=load_errors, mode=mode)
    report.outcomes = asyncio.run(_run(chosen, options))
    report.duration_s = time.perf_counter() - t0
    print_summary(report, err)
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(report), encoding="utf-8")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(json_report(report), indent=1) + "\n", encoding="utf-8")
    raise typer.Exit(report.exit_code)


async def _run(scenarios: list[Scenario], options: RunOptions) -> list[ScenarioOutcome]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crossroads.testing.runner import ScenarioRunner

    with Progress(
        TextColumn("[bold]scenarios"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(scenarios))

        def done(outcome: ScenarioOutcome) -> None:
            colour = {"passed": "green", "skipped": "yellow"}.get(outcome.status, "red")
            progress.update(task, advance=1, description=f"[{colour}]{outcome.id}[/]")

        async with ScenarioRunner(options) as runner:
            return await runner.run(scenarios, on_done=done)
