"""`crossroads agents` and `crossroads graph`: what the team looks like, and `agents --check`: how its cards loaded."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, Field

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, JsonOpt, err, guarded, log_overrides, out
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags, settings_from_flags

if TYPE_CHECKING:
    from crossroads.cards import AgentCard
    from crossroads.orchestrator import Orchestrator

CheckOpt = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Report how every card file loaded: skipped files, warnings, fields kept but not acted on, "
        "model resolution, tools, and each MCP server started (exit 2 with --strict when anything is wrong).",
    ),
]


class GraphFormat(StrEnum):
    """Output formats of `crossroads graph`."""

    table = "table"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("agents")(agents)
    app.command("graph")(graph_cmd)


def _load(
    config: Path | None, cards: list[Path] | None, graph: Path | None, *, strict: bool = False, no_builtin: bool = False
) -> Orchestrator:
    from crossroads.orchestrator import Orchestrator

    return Orchestrator(settings_from_flags(config, cards, graph, **card_flags(strict, no_builtin)))


@guarded
def agents(
    json_out: JsonOpt = False,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    check: CheckOpt = False,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """List the specialists: name, description, tools and neighbours (`--check`: how their cards loaded)."""
    if check:
        _check(config, cards, graph, json_out=json_out, strict=strict, no_builtin=no_builtin)
        return
    from rich.table import Table

    orchestrator = _load(config, cards, graph, strict=strict, no_builtin=no_builtin)
    loaded, g = orchestrator.cards, orchestrator.graph
    if json_out:
        print(json.dumps([_card_json(c, g.neighbours(c.name)) for c in loaded.values()]))
    else:
        table = Table(title="Specialists")
        for col in ("name", "description", "tools", "hands off to"):
            table.add_column(col, overflow="fold")
        for name, card in sorted(loaded.items()):
            tools = [*card.tools, *(s.tool_prefix + "*" for s in card.mcp_servers)]
            table.add_row(name, card.description, ", ".join(tools), ", ".join(g.neighbours(name)))
        out.print(table)
    problems = orchestrator.card_set.problems()
    if problems:
        skipped = len(orchestrator.card_set.skipped)
        for issue in problems[:10]:
            err.print(
                f"{'skipped' if issue.severity == 'error' else 'warning'}: {issue}", highlight=False, markup=False
            )
        err.print(
            f"{skipped} card file(s) skipped, {len(problems) - skipped} warning(s):"
            " crossroads agents --check lists them",
            highlight=False,
        )


def _card_json(card: AgentCard, neighbours: dict[str, str]) -> dict[str, Any]:
    return {
        "name": card.name,
        "source_name": card.source_name,
        "title": card.display_name,
        "description": card.description,
        "tools": list(card.tools),
        "declared_tools": None if card.declared_tools is None else list(card.declared_tools),
        "unavailable_tools": list(card.unavailable_tools),
        "mcp_servers": [s.name for s in card.mcp_servers],
        "model": card.model,
        "capabilities": list(card.capabilities),
        "handoffs": neighbours,
        "kept_fields": card.claude,
        "path": card.path,
    }


class CardCheck(BaseModel):
    """One card as `agents --check` reports it."""

    name: str
    source_name: str
    path: str
    model: str
    runs_on: str
    model_fallback: str | None = None
    tools: list[str]
    unavailable_tools: list[str]
    kept_fields: list[str]
    mcp: list[dict[str, Any]] = Field(default_factory=list)
    issues: list[str] = Field(default_factory=list)


class CheckReport(BaseModel):
    """What `crossroads agents --check` found: per card, and the files that did not load."""

    directories: list[str]
    loaded: int
    skipped: list[str]
    warnings: list[str]
    cards: list[CardCheck]
    ok: bool
    """No skipped file, no warning, no model fallback, every MCP server started: what `--strict` requires."""


def _check(
    config: Path | None, cards: list[Path] | None, graph: Path | None, *, json_out: bool, strict: bool, no_builtin: bool
) -> None:
    """Load without refusing anything, report everything, then apply `--strict` (or `strict_cards`)."""
    import asyncio

    from crossroads.orchestrator import Orchestrator

    flags = card_flags(False, no_builtin)
    if log_overrides().get("log_level") is None:  # the report says it all; no duplicate log lines
        flags["log_level"] = "error"
    settings = settings_from_flags(config, cards, graph, **flags)
    refuse = strict or settings.strict_cards
    settings.strict_cards = False
    orchestrator = Orchestrator(settings)
    models = {m.card: m for m in orchestrator.card_models()}

    async def probe() -> dict[str, list[Any]]:
        try:
            return await orchestrator.probe_mcp()
        finally:
            await orchestrator.aclose()

    probes = asyncio.run(probe())
    found = orchestrator.card_set
    report = CheckReport(
        directories=found.directories,
        loaded=len(found.cards),
        skipped=[str(i) for i in found.skipped],
        warnings=[str(i) for i in found.issues if i.severity == "warning"],
        cards=[],
        ok=True,
    )
    for name, card in sorted(found.cards.items()):
        model = models[name]
        report.cards.append(
            CardCheck(
                name=name,
                source_name=card.source_name,
                path=card.path,
                model=card.model,
                runs_on=model.spec,
                model_fallback=model.warning(card.path),
                tools=list(card.tools),
                unavailable_tools=list(card.unavailable_tools),
                kept_fields=sorted(card.claude),
                mcp=[
                    {
                        "server": state.server.name,
                        "command": state.server.describe(),
                        "tools": [state.server.tool_prefix + t for t in state.tools],
                        "start_ms": state.start_ms,
                        "error": error,
                    }
                    for state, error in probes.get(name, [])
                ],
                issues=[f"{i.severity}: {i}" for i in found.issues if i.card == name],
            )
        )
    report.ok = not found.problems() and all(
        c.model_fallback is None and all(m["error"] is None for m in c.mcp) for c in report.cards
    )
    if json_out:
        print(report.model_dump_json())
    else:
        _print_check(report)
    if refuse and not report.ok:
        raise typer.Exit(2)


def _print_check(report: CheckReport) -> None:
    from rich.markup import escape

    def line(text: str, style: str = "") -> None:
        out.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False)

    line(
        f"{report.loaded} card(s) loaded, {len(report.skipped)} file(s) skipped, {len(report.warnings)} warning(s)"
        f" from {', '.join(report.directories)}",
        "bold",
    )
    for text in report.skipped:
        line(f"skipped: {text}", "red")
    for card in report.cards:
        shown = f" ({card.source_name})" if card.source_name != card.name else ""
        line(f"\n{card.name}{shown}  {card.path}", "bold")
        fallback = f"  [fallback: {card.model_fallback.split(': model ', 1)[-1]}]" if card.model_fallback else ""
        line(f"  model: {card.model} -> {card.runs_on}{fallback}", "yellow" if fallback else "")
        line(f"  tools: {', '.join(card.tools) or 'none'}")
        if card.unavailable_tools:
            line(f"  unavailable here: {', '.join(card.unavailable_tools)}")
        if card.kept_fields:
            line(f"  kept, not acted on: {', '.join(card.kept_fields)}")
        for m in card.mcp:
            if m["error"]:
                line(f"  mcp {m['server']}: {m['error']}", "red")
            else:
                line(f"  mcp {m['server']}: {len(m['tools'])} tool(s), started in {m['start_ms']:.0f} ms")
        for text in card.issues:
            if not text.startswith("note: ") or "kept, not acted on" not in text:
                line(f"  {text}", "yellow" if text.startswith("warning") else "dim")
    line("\nok" if report.ok else "\nnot clean: see the skipped files, warnings and fallbacks above", "bold")


@guarded
def graph_cmd(
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="table | mermaid | dot | json")
    ] = GraphFormat.table,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Show the handoff graph, or export it as Mermaid or Graphviz DOT."""
    from rich.table import Table

    g = _load(config, cards, graph, no_builtin=no_builtin).graph
    if fmt is GraphFormat.mermaid:
        print(g.to_mermaid(), end="")
    elif fmt is GraphFormat.dot:
        print(g.to_dot(), end="")
    elif fmt is GraphFormat.json:
        print(json.dumps({"nodes": ["router", *g.specialists], "edges": g.edges()}))
    else:
        table = Table(title="Handoff graph")
        for col in ("from", "to", "reason"):
            table.add_column(col, overflow="fold")
        for e in g.edges():
            table.add_row(e["from"], e["to"], e["reason"])
        out.print(table)
