"""Agent cards: markdown with YAML frontmatter (the Claude Code subagent format) parsed into typed models.

A card's frontmatter says who the specialist is (`name`, `description`, `tools`, `model`, `capabilities`,
`handoffs`); its markdown body is the specialist's knowledge, split into sections that the offline model
and the router read. Packaged cards live in `crossroads/prompts/`; a user directory adds cards or
overrides packaged ones by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crossroads.errors import CardError

PACKAGED_CARDS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when present: parsing five frontmatters in C is ~8x faster (route start-up)."""
KNOWN_TOOLS = frozenset({"run_python", "check_math", "run_sql"})
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
RESERVED_NAMES = frozenset({"router", "synthesizer"})
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


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
        match = None if in_code else _HEADING.match(line)
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


def parse_card(text: str, path: str = "<string>") -> AgentCard:
    """Parse one card's text. Raises `CardError` naming the file and the field."""
    match = _FRONTMATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise CardError(path, "no YAML frontmatter: the file must start with a '---' line and close it with '---'")
    try:
        meta = yaml.load(match.group(1), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise CardError(path, f"frontmatter is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(meta, dict):
        raise CardError(path, "frontmatter must be a YAML mapping of fields")
    body = match.group(2)
    title = ""
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            title = heading.group(2).strip()
            break
    for key in ("name", "description"):
        if not meta.get(key):
            raise CardError(path, "is required and must not be empty", field=key)
    try:
        return AgentCard(**meta, title=title, body=body, path=path)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise CardError(path, err["msg"], field=field) from None
    except TypeError as exc:
        raise CardError(path, str(exc)) from None


def load_card(path: Path) -> AgentCard:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(str(path), f"cannot read: {exc}") from None
    return parse_card(text, str(path))


def load_cards(extra_dirs: Iterable[Path | str] = (), *, include_packaged: bool = True) -> dict[str, AgentCard]:
    """Load packaged cards, then each extra directory in order; a later card with the same name wins."""
    dirs = ([PACKAGED_CARDS_DIR] if include_packaged else []) + [Path(d) for d in extra_dirs]
    cards: dict[str, AgentCard] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise CardError(str(directory), "cards directory does not exist")
        seen: dict[str, str] = {}
        for file in sorted(directory.glob("*.md")):
            if file.name.upper() in {"README.MD", "AGENTS.MD"}:
                continue
            card = load_card(file)
            if card.name in seen:
                raise CardError(
                    str(file), f"duplicate card name '{card.name}' (also in {seen[card.name]})", field="name"
                )
            seen[card.name] = str(file)
            cards[card.name] = card
    if not cards:
        raise CardError(", ".join(str(d) for d in dirs), "no agent cards found")
    return cards
