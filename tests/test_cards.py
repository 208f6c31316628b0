from pathlib import Path

import pytest

from crossroads.cards import KNOWN_TOOLS, load_cards, parse_card
from crossroads.errors import CardError

GOOD = """---
name: quantum
description: Quantum computing questions.
tools: run_python, check_math
capabilities: [qubits, quantum circuits]
handoffs:
  - to: data-ai
    reason: classical ML on measurement data
---
# Quantum Specialist

Intro text.

## Scope
Qubits and gates.

### Hardware
Superconducting and trapped-ion devices.
"""


def test_packaged_cards_load_with_all_five_specialists() -> None:
    cards = load_cards()
    assert set(cards) == {"data-ai", "cloud-infra", "language", "architecture-security", "core-dev"}
    sizes = {name: len(card.body) for name, card in cards.items()}
    # Siblings are as substantial as the Data & AI card.
    assert min(sizes.values()) >= 0.7 * sizes["data-ai"], sizes
    for card in cards.values():
        assert card.capabilities and card.handoffs and set(card.tools) <= KNOWN_TOOLS
        headings = " ".join(s.heading.lower() for s in card.sections)
        for kind in ("scope", "decision", "best practice", "hand off"):
            assert kind in headings, (card.name, kind)


def test_data_ai_card_carries_the_seed_facts() -> None:
    body = load_cards()["data-ai"].body
    for fact in (
        "LoRA",
        "Airflow",
        "Dagster",
        "dbt",
        "Snowflake",
        "Great Expectations",
        "KServe",
        "BentoML",
        "Silhouette",
        "Davies-Bouldin",
        "t-SNE",
        "UMAP",
        "Isolation Forest",
        "Kubeflow",
        "Prefix",
        "Weights & Biases",
        "Tableau",
        "Power BI",
        "Looker",
        "LM Studio",
        "vLLM",
        "Ollama",
        "Kaggle",
        "Presto",
        "Flink",
        "Kinesis",
        "MAPE",
        "AUC-PR",
        "Elastic Net",
    ):
        assert fact.lower() in body.lower(), fact


def test_parse_card_fields_and_sections() -> None:
    card = parse_card(GOOD, "quantum.md")
    assert card.name == "quantum" and card.tools == ("run_python", "check_math")
    assert card.handoffs[0].to == "data-ai" and card.title == "Quantum Specialist"
    assert [s.heading for s in card.sections] == ["Quantum Specialist", "Scope", "Scope > Hardware"]


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("no frontmatter here", None, "no YAML frontmatter"),
        ("---\nname: [unclosed\n---\nbody", None, "not valid YAML"),
        ("---\ndescription: x\n---\nbody", "name", "required"),
        ("---\nname: x\n---\nbody", "description", "required"),
        ("---\nname: x\ndescription: y\ntools: [run_python, rm_rf]\n---\n", "tools", "unknown tool"),
        ("---\nname: Bad Name\ndescription: y\n---\n", "name", "pattern"),
        ("---\nname: x\ndescription: y\ncolour: red\n---\n", "colour", "Extra inputs"),
        ("---\n- a list\n---\n", None, "mapping"),
    ],
)
def test_broken_cards_name_file_and_field(text: str, field: str | None, fragment: str) -> None:
    with pytest.raises(CardError) as info:
        parse_card(text, "cards/broken.md")
    message = str(info.value)
    assert message.startswith("cards/broken.md")
    assert fragment.lower() in message.lower()
    if field:
        assert f"field '{field}'" in message


def test_user_directory_adds_and_overrides_cards(tmp_path: Path) -> None:
    (tmp_path / "quantum.md").write_text(GOOD)
    override = load_cards()["language"].model_copy()
    (tmp_path / "language.md").write_text(
        "---\nname: language\ndescription: Only Rust.\n---\n# Rust Specialist\n## Scope\nRust.\n"
    )
    cards = load_cards([tmp_path])
    assert "quantum" in cards and cards["language"].description == "Only Rust."
    assert override.description != "Only Rust."


def test_duplicate_names_in_one_directory_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text(GOOD)
    with pytest.raises(CardError, match="duplicate card name 'quantum'"):
        load_cards([tmp_path])


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="does not exist"):
        load_cards([tmp_path / "nope"])
