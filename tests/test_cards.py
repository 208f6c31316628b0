from pathlib import Path

import pytest

from crossroads.cards import KNOWN_TOOLS, load_cards, parse_card, read_card, scan_cards
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
        ("---\nname: '***'\ndescription: y\n---\n", "name", "no letters or digits"),
        ("---\nname: router\ndescription: y\n---\n", "name", "reserved"),
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


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("---\nname: x\ndescription: y\ntools: [run_python, rm_rf]\n---\n", "tools", "'rm_rf' is not a Claude Code"),
        ("---\nname: x\ndescription: y\ncolour: red\n---\n", "colour", "misspelling of 'color'"),
    ],
)
def test_doubtful_fields_are_warnings_and_the_card_loads(text: str, field: str, fragment: str) -> None:
    card, issues = read_card(text, "cards/doubtful.md")
    assert card.name == "x"
    warnings = [i for i in issues if i.severity == "warning"]
    assert [i.field for i in warnings] == [field]
    assert fragment in str(warnings[0]) and str(warnings[0]).startswith("cards/doubtful.md:4: field")


def test_user_directory_adds_and_overrides_cards(tmp_path: Path) -> None:
    (tmp_path / "quantum.md").write_text(GOOD)
    override = load_cards()["language"].model_copy()
    (tmp_path / "language.md").write_text(
        "---\nname: language\ndescription: Only Rust.\n---\n# Rust Specialist\n## Scope\nRust.\n"
    )
    cards = load_cards([tmp_path])
    assert "quantum" in cards and cards["language"].description == "Only Rust."
    assert override.description != "Only Rust."


def test_duplicate_names_in_one_directory_skip_the_second(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD)
    (tmp_path / "b.md").write_text(GOOD.replace("Quantum computing questions.", "Second."))
    found = scan_cards([tmp_path], include_packaged=False)
    assert found.cards["quantum"].path.endswith("a.md")
    assert [str(i) for i in found.skipped] == [
        f"{tmp_path / 'b.md'}:2: field 'name': agent id 'quantum' is already taken by {tmp_path / 'a.md'}: skipped"
    ]
    with pytest.raises(CardError, match="already taken"):
        load_cards([tmp_path], strict=True)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="does not exist"):
        load_cards([tmp_path / "nope"])
