"""The agent card model: a specialist's definition as crossroads reads it.

A card is markdown with YAML frontmatter (the Claude Code subagent format). The frontmatter says who the
specialist is (`name`, `description`, `tools`, `model`, `capabilities`, `handoffs`); the markdown body is
the specialist's knowledge, split into sections that the offline model and the router read.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PACKAGED_CARDS_DIR = Path(__file__).resolve().parent.parent / "prompts"
KNOWN_TOOLS = frozenset({"run_python", "check_math", "run_sql"})
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
RESERVED_NAMES = frozenset({"router", "synthesizer"})
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class Handoff(BaseModel):
    """A neighbour this specialist may hand work to, and why."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern=NAME_PATTERN)
    reason: str = Field(min_length=1)


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
    description: str = Field(min_length=1)
    tools: tuple[str, ...] = ()
    model: str = "inherit"
    capabilities: tuple[str, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    title: str = ""
    body: str = ""
    path: str = ""

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
        return self.title or self.name


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
