"""The agent card model: a specialist's definition as crossroads reads it.

A card is markdown with YAML frontmatter (the Claude Code subagent format). The frontmatter says who the
specialist is (`name`, `description`, `tools`, `model`, `mcpServers`, plus crossroads' `capabilities` and
`handoffs`); the markdown body is the specialist's knowledge, split into sections that the offline model
and the router read. Claude Code fields crossroads does not act on are kept on the card (`claude`), so
nothing written in a card is lost or silently reinterpreted.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crossroads.cards.claude import agent_id
from crossroads.cards.mcp_config import McpServer

PACKAGED_CARDS_DIR = Path(__file__).resolve().parent.parent / "prompts"
KNOWN_TOOLS = frozenset({"run_python", "check_math", "run_sql"})
NAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
"""Agent ids: lower-case words joined by `-` (`claude.agent_id` maps any card name onto one)."""
RESERVED_NAMES = frozenset({"router", "synthesizer"})
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class Handoff(BaseModel):
    """A neighbour this specialist may hand work to, and why."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern=NAME_PATTERN)
    reason: str = Field(min_length=1)

    @field_validator("to", mode="before")
    @classmethod
    def _to_id(cls, value: Any) -> Any:
        return agent_id(value) if isinstance(value, str) else value


class CardSection(BaseModel):
    """One heading of a card's body with the text under it (sub-headings are sections of their own)."""

    heading: str
    """The heading path, e.g. `MLOps: Production ML > Model Serving`."""
    text: str
    level: int


class AgentCard(BaseModel):
    """A specialist's definition, parsed from one card file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    """The agent id: the graph node, `crossroads/<name>` model id, `--agent` value (`claude.agent_id`)."""
    description: str = Field(min_length=1)
    tools: tuple[str, ...] = ()
    """crossroads tools granted (a subset of `KNOWN_TOOLS`), after mapping Claude Code names."""
    model: str = "inherit"
    """As written: `inherit`, an alias (`sonnet`), a model id or a crossroads spec (`providers.specs`)."""
    capabilities: tuple[str, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    title: str = ""
    body: str = ""
    path: str = ""
    source_name: str = ""
    """The name as the card wrote it (`data_scientist`); `name` is its agent id (`data-scientist`)."""
    declared_tools: tuple[str, ...] | None = None
    """`tools` as written; None when the field is omitted (Claude Code: every tool)."""
    disallowed_tools: tuple[str, ...] = ()
    unavailable_tools: tuple[str, ...] = ()
    """Claude Code tools the card lists that have no counterpart here (`Read`, `WebFetch`, ...)."""
    mcp_servers: tuple[McpServer, ...] = ()
    mcp_tools: tuple[str, ...] | None = None
    """MCP tool patterns `tools` allows (`mcp__srv`, `mcp__srv__*`, `mcp__srv__tool`); None: all of them."""
    mcp_denied: tuple[str, ...] = ()
    claude: dict[str, Any] = Field(default_factory=dict)
    """Claude Code fields kept but not acted on (`color`, `permissionMode`, ...), as written."""
    unknown_fields: dict[str, Any] = Field(default_factory=dict)
    """Frontmatter keys that are no known field (reported by the loader), as written."""
    field_lines: dict[str, int] = Field(default_factory=dict)
    """The line of each frontmatter field in `path`, so later checks (model fallback, handoffs) name it."""

    @model_validator(mode="before")
    @classmethod
    def _name_to_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            fields: dict[str, Any] = dict(data)
            fields.setdefault("source_name", fields["name"])
            fields["name"] = agent_id(fields["name"]) or fields["name"]
            return fields
        return data

    @field_validator("tools", mode="before")
    @classmethod
    def _split_tools(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):  # Claude Code allows "Read, Bash"
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - KNOWN_TOOLS)
        if unknown:
            raise ValueError(f"unknown tool(s) {unknown}; known tools: {sorted(KNOWN_TOOLS)}")
        return value

    @field_validator("handoffs", mode="before")
    @classmethod
    def _handoffs_mapping(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, dict):  # `{cloud-infra: "reason"}` is accepted as well as a list
            return tuple({"to": k, "reason": v} for k, v in value.items())
        return value

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"'{value}' is reserved")
        return value

    @cached_property
    def sections(self) -> tuple[CardSection, ...]:
        """The body split at every heading; text before the first heading belongs to the title."""
        return tuple(split_sections(self.body, self.title or self.name))

    @property
    def display_name(self) -> str:
        return self.title or self.source_name or self.name


def split_sections(body: str, root: str) -> list[CardSection]:
    sections: list[CardSection] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    current = (root, 1)

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(CardSection(heading=current[0], text=text, level=current[1]))
        lines.clear()

    in_code = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        flush()
        level, title = len(match.group(1)), match.group(2).strip()
        if level == 1:
            stack = []
            current = (title, 1)
            continue
        stack = [(lv, t) for lv, t in stack if lv < level] + [(level, title)]
        current = (" > ".join(t for _, t in stack), level)
    flush()
    return sections
