"""The handoff graph: a networkx DiGraph over the specialists, plus the `router` node that reaches them all.

Handoffs at run time follow these edges only. The graph is validated when it is built: an edge naming an
agent without a card, a self-loop or an edge back to the router are `GraphError`s. This module
knows nothing of pydantic-ai.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from crossroads.cards import AgentCard
from crossroads.errors import GraphError

if TYPE_CHECKING:
    import networkx as nx

PACKAGED_GRAPH = Path(__file__).resolve().parent / "config" / "graph.yaml"
ROUTER = "router"


@dataclass(frozen=True)
class Edge:
    """One declared handoff edge, with where it was declared."""

    source: str
    target: str
    reason: str
    origin: str
    """Where the edge was declared: the graph file or a card file."""


def read_graph_file(path: Path) -> list[Edge]:
    """Read the edge list of a graph file. Raises `GraphError` naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraphError(f"cannot read graph file: {exc.strerror or exc}", path=str(path)) from None
    except yaml.YAMLError as exc:
        raise GraphError(f"not valid YAML: {exc}", path=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("edges", []), list):
        raise GraphError("expected a mapping with an 'edges' list", path=str(path))
    edges: list[Edge] = []
    for i, raw in enumerate(data.get("edges") or []):
        if not isinstance(raw, dict) or not raw.get("from") or not raw.get("to"):
            raise GraphError(f"edges[{i}] needs 'from' and 'to'", path=str(path))
        edges.append(Edge(str(raw["from"]), str(raw["to"]), str(raw.get("reason", "")), str(path)))
    return edges


class HandoffGraph:
    """Validated handoff graph. `neighbours(agent)` is what an agent's handoff tool may offer.

    Validation is plain Python over the edge list, so building one at start-up costs nothing; the
    networkx `DiGraph` (`g`) is built on first use.
    """

    def __init__(self, cards: Mapping[str, AgentCard], edges: list[Edge]) -> None:
        self.cards = dict(cards)
        for edge in edges:
            for end in (edge.source, edge.target):
                if end != ROUTER and end not in self.cards:
                    raise GraphError(
                        f"edge {edge.source} -> {edge.target} names unknown agent '{end}'"
                        f" (known: {', '.join(sorted(self.cards))})",
                        path=edge.origin,
                    )
            if edge.target == ROUTER:
                raise GraphError(f"edge {edge.source} -> router: nothing may hand back to the router", path=edge.origin)
            if edge.source == edge.target:
                raise GraphError(f"self-loop on '{edge.source}'", path=edge.origin)
        self._edges = list(edges)

    @cached_property
    def g(self) -> nx.DiGraph[str]:
        """The graph itself: the router node, one node per specialist, routing and handoff edges."""
        import networkx as nx

        g: nx.DiGraph[str] = nx.DiGraph()
        g.add_node(ROUTER, kind="router")
        for name, card in self.cards.items():
            g.add_node(name, kind="specialist", description=card.description, capabilities=list(card.capabilities))
            g.add_edge(ROUTER, name, reason="routing", origin="router")
        for edge in self._edges:
            g.add_edge(edge.source, edge.target, reason=edge.reason, origin=edge.origin)
        return g

    @classmethod
    def build(
        cls, cards: Mapping[str, AgentCard], graph_file: Path | None = None, *, packaged: bool = True
    ) -> HandoffGraph:
        """Edges come from the graph file; a card that file never mentions brings its own `handoffs`.

        Without a graph file the packaged graph applies, which is about the packaged cards: `packaged=False`
        (no packaged cards loaded, `builtin_cards = false`) leaves it out, so the cards' own `handoffs`
        are the whole graph.
        """
        if graph_file is None and not packaged:
            edges: list[Edge] = []
        else:
            edges = read_graph_file(graph_file or PACKAGED_GRAPH)
        mentioned = {e.source for e in edges} | {e.target for e in edges}
        for card in cards.values():
            if card.name in mentioned:
                continue
            edges.extend(Edge(card.name, h.to, h.reason, card.path) for h in card.handoffs)
        return cls(cards, edges)

    @property
    def specialists(self) -> list[str]:
        return sorted(self.cards)

    def neighbours(self, agent: str) -> dict[str, str]:
        """Agents `agent` may hand work to, with the reason of each edge."""
        return {t: self.g.edges[agent, t]["reason"] for t in sorted(self.g.successors(agent))}

    def has_edge(self, source: str, target: str) -> bool:
        return self.g.has_edge(source, target)

    def edges(self) -> list[dict[str, Any]]:
        return [{"from": s, "to": t, "reason": d.get("reason", "")} for s, t, d in self.g.edges(data=True)]

    def to_mermaid(self) -> str:
        lines = ["flowchart LR"]
        for node in [ROUTER, *self.specialists]:
            label = self.cards[node].display_name if node in self.cards else "Router"
            shape = f'{_mid(node)}{{{{"{label}"}}}}' if node == ROUTER else f'{_mid(node)}["{label}"]'
            lines.append(f"    {shape}")
        for s, t, d in self.g.edges(data=True):
            arrow = "-.->" if s == ROUTER else "-->"
            reason = str(d.get("reason", "")).replace('"', "'")
            label = f'|"{reason}"|' if s != ROUTER and reason else ""
            lines.append(f"    {_mid(s)} {arrow}{label} {_mid(t)}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        lines = ["digraph handoffs {", "  rankdir=LR;", '  router [shape=diamond, label="Router"];']
        for name in self.specialists:
            lines.append(f'  "{name}" [shape=box, label="{self.cards[name].display_name}"];')
        for s, t, d in self.g.edges(data=True):
            attrs = ["style=dashed"] if s == ROUTER else [f'label="{_esc(str(d.get("reason", "")))}"']
            lines.append(f'  "{s}" -> "{t}" [{", ".join(attrs)}];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _mid(name: str) -> str:
    return name.replace("-", "_")


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
