"""Reading agent cards from files: packaged cards, then user directories that add or override by name.

The loader is tolerant and honest, because real folders are written for Claude Code: every documented
Claude Code field loads, fields crossroads does not act on are kept and reported, a likely misspelling is
a warning naming the file, line and field, and one broken file is skipped with a one-line error while
the rest of its folder loads. What it did is in `CardSet.issues`; `load_cards(strict=True)` (CI, the
`--strict` flag) turns every warning or error into a `CardError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from crossroads.cards.claude import CLAUDE_FIELDS, KNOWN_FIELDS, agent_id, closest, grant_tools
from crossroads.cards.mcp_config import McpRegistry, McpServer, parse_server, registry_files_for
from crossroads.cards.model import HEADING, KNOWN_TOOLS, NAME_PATTERN, PACKAGED_CARDS_DIR, RESERVED_NAMES, AgentCard
from crossroads.errors import CardError

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when present: parsing five frontmatters in C is ~8x faster (route start-up)."""
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(?:(.*?)\r?\n)?---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
_TOP_KEY = re.compile(r"^([^\s#:][^:]*?)\s*:(?:\s|$)")
DOC_FILES = frozenset({"README", "CONTRIBUTING", "CHANGELOG", "LICENSE", "CODE_OF_CONDUCT", "SECURITY", "AGENTS"})
DOC_FILES = DOC_FILES | {"CLAUDE", "TEMPLATE"}
"""Markdown files in a cards folder that are documentation, never cards."""

Severity = Literal["error", "warning", "note"]

_KEPT_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "permissionMode": (
        lambda v: v in {"default", "acceptEdits", "auto", "dontAsk", "bypassPermissions", "plan"},
        "one of default, acceptEdits, auto, dontAsk, bypassPermissions, plan",
    ),
    "maxTurns": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive integer"),
    "skills": (lambda v: isinstance(v, str) or _str_list(v), "a list of skill names"),
    "hooks": (lambda v: isinstance(v, dict), "a mapping of hook events"),
    "memory": (lambda v: v in {"user", "project", "local"}, "one of user, project, local"),
    "color": (lambda v: isinstance(v, str), "a colour name"),
    "background": (lambda v: isinstance(v, bool), "true or false"),
    "isolation": (lambda v: v == "worktree", "worktree"),
    "effort": (lambda v: v in {"low", "medium", "high", "max"}, "one of low, medium, high, max"),
    "initialPrompt": (lambda v: isinstance(v, str), "a string"),
}
"""The Claude Code fields crossroads keeps without acting on, and what Claude Code expects of each."""


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class CardIssue(BaseModel):
    """Something the loader did not take as written.

    An `error` skips the file, a `warning` loads it anyway (and fails `--strict`), a `note` is for the
    record (`crossroads agents --check`).
    """

    path: str
    severity: Severity
    message: str
    field: str | None = None
    line: int | None = None
    card: str | None = None
    """The agent id of the card it concerns, when the card loaded."""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        where = f"{where}: field '{self.field}'" if self.field else where
        return f"{where}: {self.message}"

    def to_error(self) -> CardError:
        return CardError(self.path, self.message, field=self.field, line=self.line)


@dataclass
class CardSet:
    """The cards that loaded, by agent id, and every issue met on the way (in file order)."""

    cards: dict[str, AgentCard] = field(default_factory=dict)
    issues: list[CardIssue] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)

    def problems(self) -> list[CardIssue]:
        """Errors and warnings: what `--strict` refuses."""
        return [i for i in self.issues if i.severity != "note"]

    @property
    def skipped(self) -> list[CardIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def raise_if_strict(self) -> None:
        """The first problem as a `CardError` (with the count of the others), if there is one."""
        problems = self.problems()
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more problem(s): crossroads agents --check lists them)"
            raise CardError(
                first.path, first.message + (more if len(problems) > 1 else ""), field=first.field, line=first.line
            )


class _Reader:
    """Reads one card's text, collecting issues; `fatal` raises the error that skips the file."""

    def __init__(self, path: str, registry: McpRegistry | None) -> None:
        self.path = path
        self.registry = registry
        self.lines: dict[str, int] = {}
        self.issues: list[CardIssue] = []

    def issue(self, severity: Severity, message: str, key: str | None = None) -> None:
        self.issues.append(
            CardIssue(path=self.path, severity=severity, message=message, field=key, line=self._line(key))
        )

    def fatal(self, message: str, key: str | None = None, line: int | None = None) -> CardError:
        return CardError(self.path, message, field=key, line=line or self._line(key))

    def _line(self, key: str | None) -> int | None:
        return self.lines.get(key) if key else None

    # -- the steps -----------------------------------------------------------------------------------

    def read(self, text: str) -> AgentCard:
        if "\x00" in text:
            raise self.fatal("a binary file, not a markdown card")
        match = _FRONTMATTER.match(text.lstrip("\ufeff"))
        if not match:
            raise self.fatal("no YAML frontmatter: the file must start with a '---' line and close it with '---'")
        frontmatter, body = match.group(1) or "", match.group(2)
        for i, line in enumerate(frontmatter.splitlines()):
            if key := _TOP_KEY.match(line):
                self.lines.setdefault(key.group(1).strip().strip("'\""), i + 2)  # line 1 is the opening '---'
        meta = self._yaml(frontmatter)
        fields = self._sort_fields(meta)
        name = self._required(fields, "name")
        description = self._required(fields, "description")
        ident = agent_id(name)
        if not ident or not re.match(NAME_PATTERN, ident):
            raise self.fatal(f"'{name}' has no letters or digits to make an agent id from", "name")
        if ident in RESERVED_NAMES:
            raise self.fatal(f"'{name}' is reserved (agent id '{ident}')", "name")
        if ident != name:
            self.issue("note", f"'{name}' is agent id '{ident}' (graph node, --agent, crossroads/{ident})", "name")
        data: dict[str, Any] = {"name": name, "description": description, "source_name": name}
        data.update(self._tools(fields))
        data.update(self._model(fields))
        data["mcp_servers"] = self._mcp(fields.get("mcpServers"))
        data["claude"] = self._kept(fields)
        for key in ("capabilities", "handoffs"):
            if fields.get(key) is not None:
                data[key] = fields[key]
        data["unknown_fields"] = {k: v for k, v in meta.items() if k not in KNOWN_FIELDS}
        self._check_mcp_grant(data)
        return self._build(data, body)

    def _yaml(self, frontmatter: str) -> dict[str, Any]:
        try:
            meta = yaml.load(frontmatter, Loader=_SAFE_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            # +2: 0-based, after the opening '---'; an error noticed at the end points at the last field line
            line = min(mark.line + 2, frontmatter.count("\n") + 2) if mark is not None else None
            raise self.fatal(
                f"frontmatter is not valid YAML: {getattr(exc, 'problem', None) or exc}", line=line
            ) from None
        if meta is None:
            raise self.fatal("frontmatter is empty: it needs at least 'name' and 'description'")
        if not isinstance(meta, dict):
            kind = type(meta).__name__
            raise self.fatal(f"frontmatter must be a YAML mapping of fields, not a {kind}")
        return {str(k): v for k, v in meta.items()}

    def _sort_fields(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The known fields; an unknown one is reported (a likely misspelling as a warning) and kept aside."""
        for key in meta:
            if key in KNOWN_FIELDS:
                continue
            guess = closest(key, KNOWN_FIELDS)
            if guess is not None:
                also = f" ('{guess}' is set too)" if guess in meta else ""
                self.issue(
                    "warning",
                    f"unknown field, likely a misspelling of '{guess}'{also}: ignored, as Claude Code does",
                    key,
                )
            else:
                self.issue("note", "not a Claude Code or crossroads field: kept on the card, not acted on", key)
        return {k: v for k, v in meta.items() if k in KNOWN_FIELDS}

    def _required(self, fields: dict[str, Any], key: str) -> str:
        value = fields.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            problem = "is required and must not be empty" if not value else "must be a string"
            raise self.fatal(problem, key)
        return value.strip()

    def _tool_list(self, fields: dict[str, Any], key: str) -> tuple[str, ...] | None:
        value = fields.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        if _str_list(value):
            return tuple(t.strip() for t in value if t.strip())
        self.issue("warning", "must be a comma-separated string or a list of tool names: ignored", key)
        return ()

    def _tools(self, fields: dict[str, Any]) -> dict[str, Any]:
        declared = self._tool_list(fields, "tools")
        disallowed = self._tool_list(fields, "disallowedTools") or ()
        grant = grant_tools(declared, disallowed, KNOWN_TOOLS)
        for entry, guess in grant.unknown:
            key = "tools" if declared and entry in declared else "disallowedTools"
            hint = f" (did you mean '{guess}'?)" if guess else ""
            self.issue("warning", f"'{entry}' is not a Claude Code, crossroads or mcp__ tool{hint}: ignored", key)
        if grant.unavailable:
            self.issue(
                "note",
                f"{', '.join(grant.unavailable)}: no such tool here (no host files, shell or web): loaded without"
                + (f"; granted {', '.join(grant.builtin)}" if grant.builtin else ""),
                "tools",
            )
        return {
            "tools": grant.builtin,
            "declared_tools": declared,
            "disallowed_tools": disallowed,
            "unavailable_tools": grant.unavailable,
            "mcp_tools": grant.mcp,
            "mcp_denied": grant.mcp_denied,
        }

    def _model(self, fields: dict[str, Any]) -> dict[str, Any]:
        value = fields.get("model")
        if value is None:
            return {}
        if not isinstance(value, str) or not value.strip():
            self.issue(
                "warning", "must be a model name (sonnet, opus, haiku, inherit or a model id): inherit used", "model"
            )
            return {}
        return {"model": value.strip()}

    def _kept(self, fields: dict[str, Any]) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, (valid, expected) in _KEPT_CHECKS.items():
            if key not in fields:
                continue
            if not valid(fields[key]):
                self.issue("warning", f"expected {expected}, got {fields[key]!r}: ignored", key)
                continue
            kept[key] = fields[key]
        if kept:
            self.issue(
                "note",
                "kept, not acted on: "
                + "; ".join(f"{k} ({CLAUDE_FIELDS[k].removeprefix('kept, not acted on: ')})" for k in kept),
            )
        return kept

    def _mcp(self, value: Any) -> tuple[McpServer, ...]:
        """Inline definitions and names of servers in the `mcpServers` files (Claude Code accepts both)."""
        if value is None:
            return ()
        entries: list[Any]
        if isinstance(value, str):
            entries = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, dict):
            entries = [{k: v} for k, v in value.items()]
        elif isinstance(value, list):
            entries = list(value)
        else:
            self.issue("warning", "must be a list of server names or {name: config} definitions: ignored", "mcpServers")
            return ()
        servers: dict[str, McpServer] = {}
        for entry in entries:
            if isinstance(entry, str):
                self._named_server(entry, servers)
            elif isinstance(entry, dict):
                for name, raw in entry.items():
                    try:
                        server, ignored = parse_server(str(name), raw, self.path)
                    except ValueError as exc:
                        self.issue("warning", f"{exc}: the server is left out", "mcpServers")
                        continue
                    if ignored:
                        self.issue("note", f"server '{name}': {', '.join(ignored)} not used", "mcpServers")
                    servers[server.name] = server
            else:
                self.issue("warning", f"entry {entry!r} is neither a server name nor a definition", "mcpServers")
        return tuple(servers.values())

    def _named_server(self, name: str, servers: dict[str, McpServer]) -> None:
        found = self.registry.servers.get(name) if self.registry else None
        if found is None:
            files = ", ".join(self.registry.files) if self.registry and self.registry.files else "none"
            self.issue(
                "warning",
                f"server '{name}' is not defined in any mcpServers file (read: {files}; see mcp.config): left out",
                "mcpServers",
            )
            return
        servers[found.name] = found

    def _check_mcp_grant(self, data: dict[str, Any]) -> None:
        allowed: tuple[str, ...] | None = data.get("mcp_tools")
        if allowed is None:
            return
        for server in data["mcp_servers"]:
            prefix = server.tool_prefix.rstrip("_")
            if not any(p == prefix or p.startswith(server.tool_prefix) for p in allowed):
                self.issue(
                    "warning",
                    f"lists no tool of its server '{server.name}' (e.g. {prefix} or {prefix}__<tool>):"
                    " the server contributes no tools",
                    "tools",
                )
        names = {s.tool_prefix.rstrip("_") for s in data["mcp_servers"]}
        for pattern in allowed:
            if not any(pattern == n or pattern.startswith(n + "__") for n in names):
                self.issue("warning", f"'{pattern}' names an MCP server this card does not declare", "tools")

    def _build(self, data: dict[str, Any], body: str) -> AgentCard:
        title = ""
        for line in body.splitlines():
            heading = HEADING.match(line)
            if heading and len(heading.group(1)) == 1:
                title = heading.group(2).strip()
                break
        try:
            return AgentCard(**data, title=title, body=body, path=self.path, field_lines=self.lines)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else None
            where = ".".join(str(p) for p in err["loc"]) or None
            raise self.fatal(f"{err['msg']}" + (f" (at {where})" if where and where != key else ""), key) from None


def read_card(
    text: str, path: str = "<string>", *, registry: McpRegistry | None = None
) -> tuple[AgentCard, list[CardIssue]]:
    """Parse one card's text: the card and the issues it loaded with. Raises `CardError` when it cannot load."""
    reader = _Reader(path, registry)
    card = reader.read(text)
    for issue in reader.issues:
        issue.card = card.name
    return card, reader.issues


def parse_card(text: str, path: str = "<string>", *, registry: McpRegistry | None = None) -> AgentCard:
    """Parse one card's text. Raises `CardError` naming the file, the line and the field."""
    return read_card(text, path, registry=registry)[0]


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CardError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise CardError(str(path), "a binary file, not a markdown card")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(str(path), f"not UTF-8 text (byte {exc.start})") from None


def load_card(path: Path, *, registry: McpRegistry | None = None) -> AgentCard:
    return parse_card(_read_text(path), str(path), registry=registry)


def card_files(directory: Path) -> list[Path]:
    """Markdown files of a cards folder, minus hidden paths and documentation (`DOC_FILES`), sorted.

    Subfolders are included: public collections group their cards in category folders.
    """
    files: list[Path] = []
    for file in directory.rglob("*.md"):
        rel = file.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts) or file.stem.upper() in DOC_FILES:
            continue
        if file.is_file():
            files.append(file)
    return sorted(files, key=lambda f: f.relative_to(directory).as_posix())


def _issue_of(exc: CardError) -> CardIssue:
    return CardIssue(path=exc.path, severity="error", message=exc.message, field=exc.field, line=exc.line)


def scan_cards(
    extra_dirs: Iterable[Path | str] = (),
    *,
    include_packaged: bool = True,
    mcp_files: Iterable[Path | str] = (),
) -> CardSet:
    """Load packaged cards, then each extra directory in order; a later card with the same id wins.

    A broken file is skipped (an `error` issue naming file, line and field) and the rest load. Cards name
    MCP servers from `mcp_files` and from each folder's `.mcp.json` (`registry_files_for`). Raises
    `CardError` only for a folder that does not exist or when no card loads at all.
    """
    dirs = ([PACKAGED_CARDS_DIR] if include_packaged else []) + [Path(d) for d in extra_dirs]
    result = CardSet(directories=[str(d) for d in dirs])
    base = McpRegistry()
    for file in mcp_files:
        base.add_file(Path(file))
    _registry_issues(base, result)
    for directory in dirs:
        if not directory.is_dir():
            raise CardError(str(directory), "cards directory does not exist")
        registry = base.model_copy(deep=True)
        for file in registry_files_for(directory):
            registry.add_file(file)
        _registry_issues(registry, result)
        _scan_directory(directory, registry, result)
    _check_handoffs(result)
    if not dirs:
        raise CardError("cards", "no agent cards: builtin_cards is off and no cards folder is given (--cards DIR)")
    if not result.cards:
        skipped = f" ({len(result.skipped)} file(s) skipped: {result.skipped[0]})" if result.skipped else ""
        raise CardError(", ".join(str(d) for d in dirs), f"no agent cards found{skipped}")
    return result


def _check_handoffs(result: CardSet) -> None:
    """Leave out (with a warning) a card's `handoffs` to agents that did not load.

    So one missing or skipped card never breaks the graph of the others.
    """
    for name, card in list(result.cards.items()):
        kept = tuple(h for h in card.handoffs if h.to in result.cards)
        if len(kept) == len(card.handoffs):
            continue
        for h in card.handoffs:
            if h.to not in result.cards:
                result.issues.append(
                    CardIssue(
                        path=card.path,
                        severity="warning",
                        message=f"hands off to '{h.to}', which is not a loaded card: edge left out",
                        field="handoffs",
                        line=card.field_lines.get("handoffs"),
                        card=name,
                    )
                )
        result.cards[name] = card.model_copy(update={"handoffs": kept})


def _key_line(text: str, key: str) -> int | None:
    """The line of a top-level frontmatter key (1-based, counting the opening `---`)."""
    for i, line in enumerate(text.splitlines()[1:], start=2):
        if line.strip() == "---":
            return None
        if (match := _TOP_KEY.match(line)) and match.group(1).strip().strip("'\"") == key:
            return i
    return None


def _registry_issues(registry: McpRegistry, result: CardSet) -> None:
    """A broken `mcpServers` file is a warning: only the cards naming its servers lose them."""
    known = {(i.path, i.message) for i in result.issues}
    for path, message in registry.errors:
        if (path, message) not in known:
            result.issues.append(CardIssue(path=path, severity="warning", message=message, field="mcpServers"))


def _scan_directory(directory: Path, registry: McpRegistry, result: CardSet) -> None:
    seen: dict[str, str] = {}
    for file in card_files(directory):
        try:
            text = _read_text(file)
            card, issues = read_card(text, str(file), registry=registry)
        except CardError as exc:
            if file.parent != directory and exc.message.startswith("no YAML frontmatter"):
                # documentation next to the cards of a category folder, not a broken card
                result.issues.append(
                    CardIssue(path=str(file), severity="note", message="no frontmatter: documentation, not a card")
                )
            else:
                result.issues.append(_issue_of(exc))
            continue
        if card.name in seen:
            result.issues.append(
                CardIssue(
                    path=str(file),
                    severity="error",
                    message=f"agent id '{card.name}' is already taken by {seen[card.name]}: skipped",
                    field="name",
                    line=_key_line(text, "name"),
                )
            )
            continue
        seen[card.name] = str(file)
        if card.name in result.cards:
            result.issues.append(
                CardIssue(
                    path=str(file),
                    severity="note",
                    message=f"overrides the card '{card.name}' of {result.cards[card.name].path}",
                    field="name",
                    card=card.name,
                )
            )
        result.cards[card.name] = card
        result.issues.extend(issues)


def load_cards(
    extra_dirs: Iterable[Path | str] = (),
    *,
    include_packaged: bool = True,
    strict: bool = False,
    mcp_files: Iterable[Path | str] = (),
) -> dict[str, AgentCard]:
    """`scan_cards` for callers that only want the cards; `strict` raises the first problem as a `CardError`."""
    found = scan_cards(extra_dirs, include_packaged=include_packaged, mcp_files=mcp_files)
    if strict:
        found.raise_if_strict()
    return found.cards
