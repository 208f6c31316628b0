"""`crossroads chat` driven through stdin (not a terminal), and `crossroads ask --conversation`."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from crossroads.cli import app as cli_app
from crossroads.config import load_settings
from crossroads.storage import store_from_settings

FIRST = "Should we store our ML feature data in PostgreSQL or in MongoDB?"
FOLLOW_UP = "which of the two is better for us?"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    cli_app._register_all()
    return CliRunner()


def turns_of(conversation_id: str) -> list[tuple[str, list[str]]]:
    store = store_from_settings(load_settings())
    assert store is not None
    try:
        found = store.get_conversation(conversation_id)
    finally:
        store.close()
    return [(t.role, t.agents) for t in found.turns] if found else []


def test_chat_reads_lines_streams_answers_and_keeps_the_conversation(runner: CliRunner) -> None:
    result = runner.invoke(cli_app.app, ["chat"], input=f"{FIRST}\n\n{FOLLOW_UP}\n/exit\nnever asked\n")
    assert result.exit_code == 0, result.stderr
    [conversation_id] = re.findall(r"conversation (\w+) \(continue it", result.stderr)
    assert "Following up on your earlier question: " + FIRST in result.stdout
    turns = turns_of(conversation_id)
    assert [role for role, _ in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[0][1] and turns[0][1] == turns[2][1]  # the follow-up stayed with the first turn's specialists

    more = runner.invoke(cli_app.app, ["ask", "--conversation", conversation_id, "--json", "and which is cheaper?"])
    assert more.exit_code == 0, more.stderr
    assert '"stage":"conversation"' in more.stdout and f'"conversation_id":"{conversation_id}"' in more.stdout
    assert len(turns_of(conversation_id)) == 6


def test_chat_continues_a_given_conversation_and_reports_bad_ids(runner: CliRunner) -> None:
    first = runner.invoke(cli_app.app, ["ask", "--conversation", "cli-1", FIRST])
    assert first.exit_code == 0, first.stderr
    again = runner.invoke(cli_app.app, ["chat", "--conversation", "cli-1"], input=f"{FOLLOW_UP}\n")
    assert again.exit_code == 0 and "cli-1: 2 earlier turns" in again.stderr
    assert len(turns_of("cli-1")) == 4
    bad = runner.invoke(cli_app.app, ["ask", "--conversation", "no spaces", FIRST])
    assert bad.exit_code == 2 and "conversation id" in bad.stderr
