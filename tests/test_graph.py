from pathlib import Path

import pytest
import yaml

from crossroads.cards import load_cards, parse_card
from crossroads.errors import GraphError
from crossroads.graph import PACKAGED_GRAPH, ROUTER, HandoffGraph

SEED_EDGES = {
    ("data-ai", "cloud-infra"),
    ("data-ai", "language"),
    ("data-ai", "core-dev"),
    ("data-ai", "architecture-security"),
}


@pytest.fixture(scope="module")
def cards():
    return load_cards()


def test_packaged_graph_has_router_and_seed_edges(cards) -> None:
    g = HandoffGraph.build(cards)
    assert all(g.has_edge(ROUTER, name) for name in cards)
    assert SEED_EDGES <= {(e["from"], e["to"]) for e in g.edges()}
    # Every card's declared handoffs agree with the graph file.
    for name, card in cards.items():
        assert set(g.neighbours(name)) == {h.to for h in card.handoffs}, name


def _graph_file(tmp_path: Path, edges: list[dict[str, str]]) -> Path:
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump({"edges": edges}))
    return path


@pytest.mark.parametrize(
    ("edge", "fragment"),
    [
        ({"from": "data-ai", "to": "quantum"}, "unknown agent 'quantum'"),
        ({"from": "ghost", "to": "data-ai"}, "unknown agent 'ghost'"),
        ({"from": "data-ai", "to": "data-ai"}, "self-loop"),
        ({"from": "data-ai", "to": "router"}, "hand back to the router"),
        ({"from": "data-ai"}, "needs 'from' and 'to'"),
    ],
)
def test_invalid_graphs_name_the_file(tmp_path: Path, cards, edge, fragment) -> None:
    path = _graph_file(tmp_path, [edge])
    with pytest.raises(GraphError) as info:
        HandoffGraph.build(cards, path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_unreadable_and_malformed_graph_files(tmp_path: Path, cards) -> None:
    with pytest.raises(GraphError, match="cannot read"):
        HandoffGraph.build(cards, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("edges: [unclosed")
    with pytest.raises(GraphError, match="not valid YAML"):
        HandoffGraph.build(cards, bad)


def test_card_not_in_graph_file_brings_its_own_handoffs(cards) -> None:
    extra = parse_card("---\nname: quantum\ndescription: q\nhandoffs: {data-ai: classical ML}\n---\n# Q\n", "q.md")
    g = HandoffGraph.build({**cards, "quantum": extra}, PACKAGED_GRAPH)
    assert g.neighbours("quantum") == {"data-ai": "classical ML"}
    assert g.has_edge(ROUTER, "quantum")
    bad = parse_card("---\nname: quantum\ndescription: q\nhandoffs: {nobody: x}\n---\n", "q.md")
    with pytest.raises(GraphError, match="q.md: .*unknown agent 'nobody'"):
        HandoffGraph.build({**cards, "quantum": bad})


def test_exports(cards) -> None:
    g = HandoffGraph.build(cards)
    mermaid = g.to_mermaid()
    assert mermaid.startswith("flowchart LR") and "data_ai -->" in mermaid and "router -.-> cloud_infra" in mermaid
    dot = g.to_dot()
    assert dot.startswith("digraph handoffs {") and '"data-ai" -> "cloud-infra"' in dot and dot.rstrip().endswith("}")
