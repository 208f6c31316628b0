"""What crossroads knows of the Claude Code subagent format: its frontmatter fields, its tool names, its names.

Real agent folders are written for Claude Code, so a card must load as Claude Code would read it. This
module holds the vocabulary (which fields exist, which ones crossroads acts on, how a Claude Code tool
maps onto crossroads' tools) and the pure rules built on it; the loader applies them and reports what
it did. Reference: https://code.claude.com/docs/en/sub-agents#supported-frontmatter-fields.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

CLAUDE_FIELDS: dict[str, str] = {
    "name": "acted on: the agent id (see `agent_id`) and display name",
    "description": "acted on: what the router matches questions against",
    "tools": "acted on: mapped onto crossroads' tools (`CLAUDE_TOOLS`) and MCP tools",
    "disallowedTools": "acted on: removed from the granted tools",
    "model": "acted on: resolved through `model_aliases`",
    "mcpServers": "acted on: the servers become the specialist's MCP tools",
    "permissionMode": "kept, not acted on: crossroads' tools are sandboxed and never ask for permission",
    "maxTurns": "kept, not acted on: per-ask limits (`limits.max_requests`) apply instead",
    "skills": "kept, not acted on: crossroads has no skills to preload",
    "hooks": "kept, not acted on: crossroads runs no shell hooks",
    "memory": "kept, not acted on: specialists keep no memory between asks",
    "color": "kept, not acted on: a Claude Code UI colour",
    "background": "kept, not acted on: every specialist runs as part of an ask",
    "isolation": "kept, not acted on: there is no working tree to isolate",
    "effort": "kept, not acted on: no per-card reasoning effort yet",
    "initialPrompt": "kept, not acted on: specialists are always asked a routed question",
}
"""Every documented Claude Code subagent frontmatter field, and what crossroads does with it."""

CROSSROADS_FIELDS: dict[str, str] = {
    "capabilities": "acted on: what the router and the graph describe the specialist by",
    "handoffs": "acted on: the specialist's handoff edges",
}
"""crossroads' own frontmatter extensions (Claude Code ignores them)."""

ACTED_ON = frozenset(k for k, v in {**CLAUDE_FIELDS, **CROSSROADS_FIELDS}.items() if v.startswith("acted on"))
KNOWN_FIELDS = frozenset({*CLAUDE_FIELDS, *CROSSROADS_FIELDS})

CLAUDE_TOOLS: dict[str, tuple[str, ...]] = {
    "Bash": ("run_python",),
    "Agent": (),
    "AskUserQuestion": (),
    "BashOutput": (),
    "Edit": (),
    "EnterPlanMode": (),
    "ExitPlanMode": (),
    "Glob": (),
    "Grep": (),
    "KillBash": (),
    "KillShell": (),
    "LS": (),
    "LSP": (),
    "ListMcpResourcesTool": (),
    "MultiEdit": (),
    "NotebookEdit": (),
    "NotebookRead": (),
    "Read": (),
    "ReadMcpResourceTool": (),
    "Skill": (),
    "SlashCommand": (),
    "Task": (),
    "TaskOutput": (),
    "TodoRead": (),
    "TodoWrite": (),
    "WebFetch": (),
    "WebSearch": (),
    "Write": (),
}
"""Claude Code's built-in tools and the crossroads tools each maps onto. `Bash` runs code, which is what
`run_python` does (in the sandbox, with no shell and no host files); the others have no counterpart
here (no host file system, no web), so a card that lists them loads without them and says so."""

MCP_PREFIX = "mcp__"
"""Claude Code names MCP tools `mcp__<server>__<tool>`; crossroads exposes them under the same names."""

_SPECIFIER = re.compile(r"^([A-Za-z_][\w-]*)\s*\(.*\)$")
_NON_ID = re.compile(r"[^a-z0-9]+")


def agent_id(name: str) -> str:
    """The agent id of a card name: lower case, every run of other characters a single `-`.

    Claude Code names are free-form in practice (`data_scientist`, `code.reviewer`, `API-Designer`);
    crossroads needs one spelling that is a graph node, an OpenAI model id `crossroads/<id>`, a CLI
    flag value and an MCP tool argument. The original name stays on the card for display.
    """
    return _NON_ID.sub("-", name.strip().lower()).strip("-")


def closest(word: str, candidates: frozenset[str] | set[str] | list[str], cutoff: float = 0.75) -> str | None:
    """The candidate `word` is most likely a misspelling of (case-insensitive), or None."""
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[match[0]] if match else None


@dataclass
class ToolGrant:
    """What a card's `tools` / `disallowedTools` amount to here."""

    builtin: tuple[str, ...]
    """crossroads tools granted (`run_python`, `check_math`, `run_sql`)."""
    mcp: tuple[str, ...] | None
    """MCP tool patterns allowed (`mcp__srv`, `mcp__srv__*`, `mcp__srv__tool`); None: every MCP tool."""
    mcp_denied: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()
    """Claude Code tools the card asks for that have no counterpart here."""
    unknown: list[tuple[str, str | None]] = field(default_factory=list)
    """Names that are neither Claude Code's, crossroads' nor MCP tools, with a likely intended name."""


def base_tool(entry: str) -> str:
    """`Bash(git:*)` -> `Bash`, `Agent(reviewer)` -> `Agent`: permission specifiers do not change the tool."""
    match = _SPECIFIER.match(entry.strip())
    return match.group(1) if match else entry.strip()


def grant_tools(tools: tuple[str, ...] | None, disallowed: tuple[str, ...], ours: frozenset[str]) -> ToolGrant:
    """Map Claude Code tool names onto crossroads' tools. `tools=None` (the field omitted) grants everything."""
    granted: list[str] = []
    mcp: list[str] = []
    unavailable: list[str] = []
    unknown: list[tuple[str, str | None]] = []
    for entry in tools if tools is not None else ():
        name = base_tool(entry)
        if name.startswith(MCP_PREFIX):
            mcp.append(name)
        elif name in ours:
            granted.append(name)
        elif name in CLAUDE_TOOLS:
            mapped = CLAUDE_TOOLS[name]
            granted.extend(mapped)
            if not mapped:
                unavailable.append(name)
        elif name != "handoff":  # handoffs come from the graph; naming the tool is harmless
            unknown.append((entry, closest(name, {*ours, *CLAUDE_TOOLS})))
    if tools is None:
        granted = sorted(ours)
    denied_builtin: set[str] = set()
    mcp_denied: list[str] = []
    for entry in disallowed:
        name = base_tool(entry)
        if name.startswith(MCP_PREFIX):
            mcp_denied.append(name)
        elif name in ours:
            denied_builtin.add(name)
        elif name in CLAUDE_TOOLS:
            denied_builtin.update(CLAUDE_TOOLS[name])
        else:
            unknown.append((entry, closest(name, {*ours, *CLAUDE_TOOLS})))
    builtin = tuple(dict.fromkeys(t for t in granted if t not in denied_builtin))
    return ToolGrant(
        builtin=builtin,
        mcp=None if tools is None else tuple(mcp),
        mcp_denied=tuple(mcp_denied),
        unavailable=tuple(dict.fromkeys(unavailable)),
        unknown=unknown,
    )


def mcp_tool_allowed(tool: str, allowed: tuple[str, ...] | None, denied: tuple[str, ...]) -> bool:
    """Whether MCP tool `tool` (full name `mcp__srv__tool`) passes a card's allow and deny patterns."""

    def matches(pattern: str) -> bool:
        if pattern.endswith("*"):
            return tool.startswith(pattern[:-1])
        return tool == pattern or tool.startswith(pattern + "__")

    if any(matches(p) for p in denied):
        return False
    return allowed is None or any(matches(p) for p in allowed)
