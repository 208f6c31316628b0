"""`crossroads agents` and `crossroads graph`: what the team looks like."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, JsonOpt, guarded, out
from crossroads.cli.common import settings_from_flags

if TYPE_CHECKING:
    from crossroads.orchestrator import Orchestrator


class GraphFormat(StrEnum):
    """Output formats of `crossroads graph`."""

    table = "table"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("agents")(agents)
    app.command("graph")(graph_cmd)


def _load(config: Path | None, cards: list[Path] | None, graph: Path | None) -> Orchestrator:
    from crossroads.orchestrator import Orchestrator

    return Orchestrator(settings_from_flags(config, cards, graph))


@guarded
def agents(json_out: JsonOpt = False, cards: CardsOpt = None, config: ConfigOpt = None, graph: GraphOpt = None) -> None:
    """List the specialists: name, description, tools and neighbours."""
    from rich.table import Table

    orchestrator = _load(config, cards, graph)
    loaded, g = orchestrator.cards, orchestrator.graph
    if json_out:
        print(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "title": c.display_name,
                        "description": c.description,
                        "tools": list(c.tools),
                        "model": c.model,
                        "capabilities": list(c.capabilities),
                        "handoffs": g.neighbours(c.name),
                        "path": c.path,
                    }
                    for c in loaded.values()
                ]
            )
        )
        return
    table = Table(title="Specialists")
    for col in ("name", "description", "tools", "hands off to"):
        table.add_column(col, overflow="fold")
    for name, card in sorted(loaded.items()):
        table.add_row(name, card.description, ", ".join(card.tools), ", ".join(g.neighbours(name)))
    out.print(table)


@guarded
def graph_cmd(
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="table | mermaid | dot | json")
    ] = GraphFormat.table,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
) -> None:
    """Show the handoff graph, or export it as Mermaid or Graphviz DOT."""
    from rich.table import Table

    g = _load(config, cards, graph).graph
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
