"""Real Claude Code agent folders load unchanged: the fixture folder of realistic cards, field by field.

`tests/fixtures/claude_agents/` is written the way public collections write subagents (Claude Code tool
names, `model: sonnet`, `color`, `permissionMode`, `mcpServers`, names with `.` and `_`, category
subfolders), plus broken files. These tests pin exactly what loads, what is skipped and why, and what is
reported; then the CLI (`agents --check`, `--strict`, `--no-builtin`) and the orchestrator on top.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from crossroads.cards import CLAUDE_FIELDS, CardSet, McpServer, load_cards, read_card, scan_cards
from crossroads.cards.claude import agent_id, grant_tools, mcp_tool_allowed
from crossroads.cards.mcp_config import McpRegistry
from crossroads.cli.app import app
from crossroads.cli.catalog import register as register_catalog
from crossroads.config import load_settings
from crossroads.errors import CardError, ConfigError
from crossroads.orchestrator import Orchestrator
from crossroads.providers.specs import card_model

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "claude_agents"
F = str(FIXTURE)

LOADED = {
    "api-designer": "API-Designer",
    "code-reviewer": "code.reviewer",
    "data-scientist": "data_scientist",
    "docs-writer": "docs-writer",
    "dotnet-framework-4-8-expert": "dotnet-framework-4.8-expert",
    "frontend-developer": "frontend-developer",
    "kubernetes-specialist": "kubernetes-specialist",
    "mcp-explorer": "mcp-explorer",
    "perf-engineer": "perf-engineer",
    "python-pro": "python-pro",
    "release-manager": "release-manager",
    "security-auditor": "security_auditor",
    "sql-analyst": "sql-analyst",
}
SKIPPED = [
    f"{F}/broken-yaml.md:3: frontmatter is not valid YAML: mapping values are not allowed in this context",
    f"{F}/diagram.md: a binary file, not a markdown card",
    f"{F}/list-frontmatter.md: frontmatter must be a YAML mapping of fields, not a list",
    f"{F}/no-description.md: field 'description': is required and must not be empty",
    f"{F}/python_pro.md:2: field 'name': agent id 'python-pro' is already taken by {F}/python-pro.md: skipped",
]
WARNINGS = {  # (file, line, field) of every warning
    ("dissallowed.md", 5, "dissallowedTools"),
    ("misspelled-tools.md", 4, "tool"),
    ("odd-values.md", 4, "tools"),
    ("odd-values.md", 6, "permissionMode"),
    ("odd-values.md", 7, "maxTurns"),
    ("security_auditor.md", 10, "handoffs"),
    ("sql-analyst.md", 4, "tools"),
}


@pytest.fixture(scope="module")
def found() -> CardSet:
    return scan_cards([FIXTURE], include_packaged=False)


def _issues(found: CardSet, severity: str) -> list[Any]:
    return [i for i in found.issues if i.severity == severity]


def test_the_fixture_folder_loads_all_but_the_broken_files(found: CardSet) -> None:
    assert {n: c.source_name for n, c in found.cards.items()} == LOADED
    assert [str(i) for i in found.skipped] == SKIPPED
    warnings = {(Path(i.path).name, i.line, i.field) for i in _issues(found, "warning")}
    assert warnings == WARNINGS
    # documentation is not a card: README files are not read, a note-only file in a subfolder is a note
    notes = [str(i) for i in _issues(found, "note") if i.card is None]
    assert notes == [f"{F}/quality/review-notes.md: no frontmatter: documentation, not a card"]
    assert not any("README" in i.path for i in found.issues)


def test_every_documented_claude_code_field_is_in_the_fixture_and_accepted(found: CardSet) -> None:
    used: set[str] = set()
    for card in found.cards.values():
        used.update(card.field_lines)
    assert set(CLAUDE_FIELDS) <= used, f"fixture lacks {sorted(set(CLAUDE_FIELDS) - used)}"
    every = "\n".join(
        [
            "---",
            "name: all-fields",
            "description: Uses every field.",
            "tools: Read, Bash, mcp__fs",
            "disallowedTools: Write",
            "model: sonnet",
            "permissionMode: plan",
            "maxTurns: 5",
            "skills: [a, b]",
            "mcpServers: [{fs: {command: npx, args: [-y, '@modelcontextprotocol/server-filesystem', /tmp]}}]",
            "hooks: {Stop: []}",
            "memory: user",
            "color: red",
            "background: true",
            "isolation: worktree",
            "effort: max",
            "initialPrompt: go",
            "tools_extra_line_is_not_a_field: 1",
            "---",
            "body",
        ]
    )
    card, issues = read_card(every, "all.md")
    assert [i for i in issues if i.severity == "warning"] == []
    assert card.claude == {
        "permissionMode": "plan",
        "maxTurns": 5,
        "skills": ["a", "b"],
        "hooks": {"Stop": []},
        "memory": "user",
        "color": "red",
        "background": True,
        "isolation": "worktree",
        "effort": "max",
        "initialPrompt": "go",
    }
    kept_note = next(i for i in issues if i.message.startswith("kept, not acted on"))
    assert "permissionMode" in kept_note.message and "color" in kept_note.message
    assert card.unknown_fields == {"tools_extra_line_is_not_a_field": 1}
    assert card.mcp_servers[0].name == "fs" and card.mcp_servers[0].args[-1] == "/tmp"


def test_claude_code_tools_map_onto_ours(found: CardSet) -> None:
    cards = found.cards
    assert cards["python-pro"].tools == ("run_python",)  # Bash runs code: run_python
    assert cards["python-pro"].unavailable_tools == ("Read", "Write", "Edit", "Glob", "Grep")
    assert cards["kubernetes-specialist"].tools == ("run_python",)  # Bash(kubectl:*) is still Bash
    assert cards["api-designer"].tools == ()  # Read, Write, WebFetch: nothing here
    # `tools` omitted inherits everything, as in Claude Code; disallowedTools: Bash takes run_python away
    assert cards["code-reviewer"].declared_tools is None
    assert cards["code-reviewer"].tools == ("check_math", "run_sql")
    # a misspelled `tool:` is ignored (as Claude Code does), so the card inherits every tool: and says so
    assert cards["frontend-developer"].tools == ("check_math", "run_python", "run_sql")
    assert cards["perf-engineer"].tools == ("run_python",)
    warning = next(i for i in found.issues if i.card == "perf-engineer" and i.field == "tools")
    assert "'run_pyhton'" in warning.message and "did you mean 'run_python'" in warning.message


def test_names_with_dots_underscores_and_capitals_become_agent_ids(found: CardSet) -> None:
    assert agent_id("dotnet-framework-4.8-expert") == "dotnet-framework-4-8-expert"
    assert agent_id("  Data__Scientist ") == "data-scientist"
    card = found.cards["code-reviewer"]
    assert card.source_name == "code.reviewer" and card.display_name == "code.reviewer"
    assert found.cards["python-pro"].display_name == "python-pro"
    note = next(i for i in found.issues if i.card == "code-reviewer" and i.field == "name")
    assert "agent id 'code-reviewer'" in note.message and note.line == 2
    # a handoff may name the target the way its card does
    assert [h.to for h in found.cards["security-auditor"].handoffs] == ["python-pro"]


def test_misspellings_are_warnings_naming_file_line_and_field(found: CardSet) -> None:
    lines = {str(i) for i in _issues(found, "warning")}
    assert (
        f"{F}/misspelled-tools.md:4: field 'tool': unknown field, likely a misspelling of 'tools': ignored,"
        " as Claude Code does"
    ) in lines
    assert any(line.startswith(f"{F}/dissallowed.md:5: field 'dissallowedTools'") for line in lines)
    # an unknown field that is no misspelling is kept and only noted
    release = found.cards["release-manager"]
    assert release.unknown_fields == {"category": "devops", "version": "1.2.0"}
    assert {i.field for i in found.issues if i.card == "release-manager" and i.severity == "warning"} == set()


def test_kept_fields_are_on_the_card_and_reported_once_per_card(found: CardSet) -> None:
    assert found.cards["data-scientist"].claude == {
        "permissionMode": "acceptEdits",
        "maxTurns": 20,
        "effort": "high",
        "memory": "project",
    }
    notes = [i for i in found.issues if i.card == "data-scientist" and i.message.startswith("kept, not acted on")]
    assert len(notes) == 1 and "maxTurns" in notes[0].message
    # a value Claude Code would not accept is a warning and is not kept
    assert "permissionMode" not in found.cards["perf-engineer"].claude


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\n---\nbody", "frontmatter is empty"),
        ("---\nname: x\ndescription: [a, b]\n---\n", "field 'description': must be a string"),
        ("---\nname: x\ndescription: y\n\ttools: a\n---\n", "not valid YAML"),
        ("---\nname: x\ndescription: y\ncapabilities: 3\n---\n", "field 'capabilities'"),
    ],
)
def test_what_cannot_load_says_why(text: str, message: str) -> None:
    with pytest.raises(CardError, match=message):
        read_card(text, "x.md")


def test_strict_turns_every_warning_or_skip_into_an_error(tmp_path: Path) -> None:
    with pytest.raises(CardError) as info:
        load_cards([FIXTURE], include_packaged=False, strict=True)
    assert str(info.value).startswith(SKIPPED[0]) and "more problem(s)" in str(info.value)
    settings = load_settings(cards=[FIXTURE], builtin_cards=False, strict_cards=True, trace_db="off")
    with pytest.raises(CardError):
        Orchestrator(settings)
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(FIXTURE / "quality" / "code.reviewer.md", clean)
    assert list(load_cards([clean], include_packaged=False, strict=True)) == ["code-reviewer"]


def test_a_folder_with_no_good_card_is_one_clear_error(tmp_path: Path) -> None:
    shutil.copy(FIXTURE / "broken-yaml.md", tmp_path)
    with pytest.raises(CardError, match=r"no agent cards found \(1 file\(s\) skipped: .*broken-yaml.md:3"):
        scan_cards([tmp_path], include_packaged=False)
    with pytest.raises(CardError, match=r"builtin_cards is off and no cards folder is given"):
        scan_cards([], include_packaged=False)


def test_tool_grants_and_mcp_patterns() -> None:
    ours = frozenset({"run_python", "check_math", "run_sql"})
    grant = grant_tools(("Read", "mcp__gh", "mcp__fs__read_file", "Agent(reviewer)"), ("mcp__gh__delete_repo",), ours)
    assert grant.builtin == () and grant.unavailable == ("Read", "Agent") and grant.unknown == []
    assert mcp_tool_allowed("mcp__gh__list_issues", grant.mcp, grant.mcp_denied)
    assert not mcp_tool_allowed("mcp__gh__delete_repo", grant.mcp, grant.mcp_denied)
    assert mcp_tool_allowed("mcp__fs__read_file", grant.mcp, grant.mcp_denied)
    assert not mcp_tool_allowed("mcp__fs__write_file", grant.mcp, grant.mcp_denied)
    assert not mcp_tool_allowed("mcp__ghost__x", grant.mcp, grant.mcp_denied)  # `mcp__gh` is not `mcp__gh*`
    assert mcp_tool_allowed("mcp__fs__anything", None, ())  # tools omitted: every MCP tool


# -- mcpServers files -------------------------------------------------------------------------------


def test_mcp_servers_resolve_from_the_folder_file_with_variables_expanded_at_start(found: CardSet) -> None:
    explorer = found.cards["mcp-explorer"]
    (everything,) = explorer.mcp_servers
    assert (
        everything.origin.endswith(".mcp.json") and everything.command == "${MCP_EVERYTHING_BIN:-mcp-server-everything}"
    )
    assert explorer.mcp_tools == ("mcp__everything__echo", "mcp__everything__get-sum")
    assert everything.expanded({}).command == "mcp-server-everything"
    assert everything.expanded({"MCP_EVERYTHING_BIN": "/opt/bin/x"}).command == "/opt/bin/x"
    sql = found.cards["sql-analyst"]
    assert [s.name for s in sql.mcp_servers] == ["sqlite", "docs"]
    docs = sql.mcp_servers[1]
    assert docs.transport == "http" and docs.missing_variables({}) == ["DOCS_MCP_TOKEN"]
    assert docs.expanded({"DOCS_MCP_TOKEN": "t"}).headers == {"Authorization": "Bearer t"}
    with pytest.raises(KeyError, match="DOCS_MCP_TOKEN"):
        docs.expanded({})
    assert sql.mcp_denied == ("mcp__sqlite__write_query",)


def test_a_claude_project_layout_finds_the_project_mcp_file(tmp_path: Path) -> None:
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"notes": {"command": "notes-server"}}}))
    (agents / "helper.md").write_text("---\nname: helper\ndescription: Helps.\nmcpServers: [notes, ghost]\n---\nHi.\n")
    found = scan_cards([agents], include_packaged=False)
    assert [s.name for s in found.cards["helper"].mcp_servers] == ["notes"]
    (warning,) = [i for i in found.issues if i.severity == "warning"]
    assert warning.field == "mcpServers" and warning.line == 4 and "server 'ghost' is not defined" in warning.message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"servers": {}}', "expected an object with an 'mcpServers' object"),
        ('{"mcpServers": {"x": {"args": []}}}', "server 'x' needs a 'url'"),
        ('{"mcpServers": {"x": {"type": "carrier-pigeon"}}}', "type 'carrier-pigeon' is not one of"),
    ],
)
def test_a_broken_mcp_servers_file_is_a_warning_naming_it(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "servers.json"
    path.write_text(content)
    registry = McpRegistry()
    registry.add_file(path)
    assert registry.errors and registry.errors[0][0] == str(path) and fragment in registry.errors[0][1]


def test_inline_server_definitions_in_claude_format() -> None:
    text = (
        "---\nname: x\ndescription: y\nmcpServers:\n"
        "  api: {type: http, url: 'https://example.test/mcp', headers: {X-Key: '${KEY}'}}\n"
        "  local: {command: node, args: [server.js], env: {LEVEL: debug}, disabled: false}\n---\n"
    )
    card, issues = read_card(text, "x.md")
    api, local = card.mcp_servers
    assert api == McpServer(
        name="api", transport="http", url="https://example.test/mcp", headers={"X-Key": "${KEY}"}, origin="x.md"
    )
    assert local.transport == "stdio" and local.env == {"LEVEL": "debug"} and api.tool_prefix == "mcp__api__"
    assert any("'local': disabled not used" in i.message for i in issues)


# -- model aliases ----------------------------------------------------------------------------------


def test_model_aliases_resolve_and_fall_back_naming_the_card(found: CardSet, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(trace_db="off")
    cards = found.cards
    sonnet = card_model(settings, cards["python-pro"])
    assert sonnet.wanted == "anthropic:claude-sonnet-5-5" and sonnet.spec == "offline"
    assert sonnet.warning("python-pro.md:5") == (
        "card 'python-pro' (python-pro.md:5): model 'sonnet' (anthropic:claude-sonnet-5-5) needs ANTHROPIC_API_KEY,"
        " which is not set: using the default 'offline'"
    )
    assert card_model(settings, cards["code-reviewer"]).fallback is None  # inherit: the default, no warning
    unknown = card_model(settings, cards["perf-engineer"])
    assert unknown.spec == "offline" and "neither an alias" in (unknown.fallback or "")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert card_model(settings, cards["python-pro"]).spec == "anthropic:claude-sonnet-5-5"
    assert card_model(settings, cards["api-designer"]).spec == "anthropic:claude-sonnet-4-5-20250929"  # bare id
    assert card_model(settings, cards["data-scientist"]).spec == "anthropic:claude-opus-5-5"
    # the table is settings: a flag or the config file re-points an alias
    custom = load_settings(model_aliases={"sonnet": "openai-compatible:qwen3@http://127.0.0.1:11434/v1"})
    assert card_model(custom, cards["python-pro"]).spec == "openai-compatible:qwen3@http://127.0.0.1:11434/v1"
    assert custom.model_aliases["opus"] == "anthropic:claude-opus-5-5"  # the other aliases stay


def test_model_aliases_merge_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[model_aliases]\nhaiku = "openai:gpt-5-mini"\n')
    settings = load_settings(config)
    assert settings.model_aliases == {
        "sonnet": "anthropic:claude-sonnet-5-5",
        "opus": "anthropic:claude-opus-5-5",
        "haiku": "openai:gpt-5-mini",
    }


@pytest.mark.anyio
async def test_a_card_on_sonnet_without_a_key_answers_offline_with_one_warning(fake_toolbox: Any) -> None:
    settings = load_settings(cards=[FIXTURE], builtin_cards=False, trace_db="off", log_level="warning")
    with capture_logs() as logs:
        async with Orchestrator(settings, toolbox=fake_toolbox) as orchestrator:
            result = await orchestrator.ask("How do I profile a slow Python function?", agent="python-pro")
            again = await orchestrator.ask("And with cProfile?", agent="python-pro")
    assert result.status == "ok" and again.status == "ok" and "Performance" in result.answer
    fallbacks = [entry for entry in logs if entry["event"] == "card.model_fallback"]
    assert len(fallbacks) == 2  # once per reason (no key; unknown model), not once per card or per ask
    assert "python-pro (sonnet)" in fallbacks[0]["detail"] and "ANTHROPIC_API_KEY" in fallbacks[0]["detail"]
    skipped = [entry["detail"] for entry in logs if entry["event"] == "card.skipped"]
    assert skipped == SKIPPED


def test_strict_refuses_a_model_fallback_at_prepare() -> None:
    settings = load_settings(cards=[FIXTURE / "infrastructure"], builtin_cards=False, strict_cards=True)
    with pytest.raises(ConfigError, match=r"card 'kubernetes-specialist' \(.*kubernetes-specialist.md:5\): model"):
        Orchestrator(settings).prepare()


# -- builtin cards off ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_builtin_cards_the_folder_is_the_whole_team() -> None:
    settings = load_settings(cards=[FIXTURE], builtin_cards=False, trace_db="off", router={"mode": "local"})
    orchestrator = Orchestrator(settings)
    assert set(orchestrator.cards) == set(LOADED)
    assert set(orchestrator.graph.specialists) == set(LOADED)
    assert [e for e in orchestrator.graph.edges() if e["from"] != "router"] == [
        {"from": "security-auditor", "to": "python-pro", "reason": "fixing the vulnerable Python code"}
    ]
    decision = await orchestrator.route("How do I configure HPA autoscaling and PodDisruptionBudgets on Kubernetes?")
    assert decision.agents[0] == "kubernetes-specialist"
    await orchestrator.aclose()


# -- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    register_catalog(app)
    from crossroads.cli import ask, route, serve, testing

    for module in (ask, route, serve, testing):
        module.register(app)
    return CliRunner()


def test_agents_check_reports_every_card_and_strict_exits_2(cli: CliRunner) -> None:
    args = ["agents", "--check", "--no-builtin", "--cards", F, "--json"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["loaded"] == len(LOADED) and report["skipped"] == SKIPPED and not report["ok"]
    by_name = {c["name"]: c for c in report["cards"]}
    assert by_name["data-scientist"]["kept_fields"] == ["effort", "maxTurns", "memory", "permissionMode"]
    assert (
        by_name["data-scientist"]["runs_on"] == "offline"
        and "ANTHROPIC_API_KEY" in by_name["data-scientist"]["model_fallback"]
    )
    sql = {m["server"]: m for m in by_name["sql-analyst"]["mcp"]}
    assert "command 'uvx' not found on PATH" in sql["sqlite"]["error"]
    assert "DOCS_MCP_TOKEN not set" in sql["docs"]["error"] and "card 'sql-analyst'" in sql["docs"]["error"]
    strict = cli.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 2 and json.loads(strict.stdout)["ok"] is False
    text = cli.invoke(app, ["agents", "--check", "--no-builtin", "--cards", F])
    assert "13 card(s) loaded, 5 file(s) skipped, 7 warning(s)" in text.stdout
    assert "kept, not acted on: effort, maxTurns, memory, permissionMode" in text.stdout


def test_agents_lists_the_folder_and_points_at_check(cli: CliRunner) -> None:
    result = cli.invoke(app, ["agents", "--no-builtin", "--cards", F, "--json"])
    assert result.exit_code == 0
    listed = {a["name"]: a for a in json.loads(result.stdout)}
    assert set(listed) == set(LOADED) and listed["code-reviewer"]["source_name"] == "code.reviewer"
    assert "5 card file(s) skipped, 7 warning(s): crossroads agents --check lists them" in result.stderr
    with_builtin = cli.invoke(app, ["agents", "--cards", F, "--json"])
    assert {"data-ai", "python-pro"} <= {a["name"] for a in json.loads(with_builtin.stdout)}


@pytest.mark.parametrize("command", [["ask", "What is HPA?"], ["route", "What is HPA?"], ["serve", "--port", "0"]])
def test_strict_is_one_line_and_exit_2_everywhere(cli: CliRunner, command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--strict", "--no-builtin", "--cards", F])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {SKIPPED[0]}") and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 2  # one message (rich may wrap it)


def test_serve_with_a_bad_model_config_exits_2_before_uvicorn(cli: CliRunner) -> None:
    result = cli.invoke(app, ["serve", "--model", "sonnet", "--no-builtin", "--cards", F])
    assert result.exit_code == 2 and "model 'sonnet': expected one of offline" in result.stderr
    assert "Traceback" not in result.output


def test_route_and_ask_with_a_user_folder_only(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        ["route", "--no-builtin", "--cards", F, "--mode", "local", "--json", "How do I write a WCF fault contract?"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["targets"][0]["agent"] == "dotnet-framework-4-8-expert"
    asked = cli.invoke(  # the name as the card writes it works as well as the agent id
        app, ["ask", "--no-builtin", "--cards", F, "--agent", "API-Designer", "--json", "How should I paginate?"]
    )
    assert asked.exit_code == 0, asked.output
    assert [t["agent"] for t in json.loads(asked.stdout)["route"]["targets"]] == ["api-designer"]


def test_scenarios_run_against_a_user_folder_only(cli: CliRunner, tmp_path: Path) -> None:
    scenario = tmp_path / "team.yaml"
    scenario.write_text(
        "tests:\n"
        "  - id: api-pagination\n"
        "    agent: api-designer\n"
        "    question: How should I paginate a large collection?\n"
        f"    config: {{cards: [{F}], builtin_cards: false}}\n"
        "    assert:\n"
        "      - {type: route, value: {exactly: [api-designer]}}\n"
        "      - {type: icontains, value: cursor}\n"
    )
    result = cli.invoke(app, ["test", str(scenario)])
    assert result.exit_code == 0, result.output
    strict = cli.invoke(app, ["test", str(scenario), "--strict"])
    assert strict.exit_code != 0 and "broken-yaml.md:3" in strict.output.replace("\n", "")
