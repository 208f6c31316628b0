"""MCP server definitions as cards and `mcpServers` files write them (Claude Code's format), as plain data.

A card's `mcpServers` holds inline definitions (`{name: {command: ..., args: [...]}}`) or names of servers
defined in an `mcpServers` JSON file (`{"mcpServers": {name: {...}}}`, the `.mcp.json` of Claude Code,
Claude Desktop and Cursor). Nothing here starts a process or opens a socket: `crossroads.agents.mcp`
does, from these models. `${VAR}` and `${VAR:-default}` are expanded when a server starts, not when the
card loads, so listing cards never needs the variables set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Transport = Literal["stdio", "http", "sse"]
TRANSPORT_ALIASES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamableHttp": "http",
    "sse": "sse",
}
SERVER_KEYS = frozenset({"type", "transport", "command", "args", "env", "cwd", "url", "headers"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


class McpServer(BaseModel):
    """One MCP server a specialist connects to: a stdio command or a streamable HTTP (or SSE) URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    """Extra variables for a stdio server, over the MCP SDK's safe default set (PATH, HOME, ...): the
    server never sees crossroads' API keys unless its definition passes them."""
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    origin: str = ""
    """Where the server was defined: the card, or the `mcpServers` file it was named from."""

    @property
    def tool_prefix(self) -> str:
        """`mcp__<server>__`: Claude Code's names for MCP tools, valid tool names for every provider."""
        return f"mcp__{_SLUG.sub('-', self.name)}__"

    def expanded(self, environ: Mapping[str, str] | None = None) -> McpServer:
        """This server with `${VAR}` / `${VAR:-default}` expanded; `KeyError(var)` for an unset variable."""
        env = os.environ if environ is None else environ
        return self.model_copy(
            update={
                "command": _expand(self.command, env) if self.command else None,
                "args": tuple(_expand(a, env) for a in self.args),
                "env": {k: _expand(v, env) for k, v in self.env.items()},
                "cwd": _expand(self.cwd, env) if self.cwd else None,
                "url": _expand(self.url, env) if self.url else None,
                "headers": {k: _expand(v, env) for k, v in self.headers.items()},
            }
        )

    def missing_variables(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Variables referenced without a default that are not set."""
        env = os.environ if environ is None else environ
        texts = [self.command or "", *self.args, *self.env.values(), self.cwd or "", self.url or ""]
        texts += list(self.headers.values())
        return sorted({m.group(1) for t in texts for m in _ENV_REF.finditer(t) if m.group(2) is None} - set(env))

    def describe(self) -> str:
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args]).strip()
        return f"{self.transport} {self.url}"


def _expand(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise KeyError(name)

    return _ENV_REF.sub(replace, text)


def parse_server(name: str, raw: Any, origin: str) -> tuple[McpServer, list[str]]:
    """One server definition in Claude's format; returns it and the keys it ignored.

    Raises `ValueError` with a message naming what is wrong (no `command` or `url`, a wrong type).
    """
    if not isinstance(raw, dict):
        raise ValueError(f"server '{name}' must be a mapping with 'command' or 'url'")
    data: dict[str, Any] = {str(k): v for k, v in raw.items()}
    kind = data.get("type", data.get("transport"))
    if kind is None:
        kind = "stdio" if "command" in data else "http"
    transport = TRANSPORT_ALIASES.get(str(kind))
    if transport is None:
        raise ValueError(f"server '{name}': type '{kind}' is not one of stdio, http, sse")
    if transport == "stdio" and not isinstance(data.get("command"), str):
        raise ValueError(f"server '{name}' needs a 'command' (a string)")
    if transport != "stdio" and not isinstance(data.get("url"), str):
        raise ValueError(f"server '{name}' needs a 'url' (a string)")
    args = data.get("args") or []
    if isinstance(args, str) or not isinstance(args, list):
        raise ValueError(f"server '{name}': 'args' must be a list of strings")
    for key in ("env", "headers"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ValueError(f"server '{name}': '{key}' must be a mapping of strings")
    server = McpServer(
        name=name,
        transport=transport,
        command=data.get("command") if transport == "stdio" else None,
        args=tuple(str(a) for a in args),
        env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
        cwd=str(data["cwd"]) if data.get("cwd") else None,
        url=data.get("url") if transport != "stdio" else None,
        headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
        origin=origin,
    )
    return server, sorted(set(data) - SERVER_KEYS)


class McpRegistry(BaseModel):
    """Servers defined in `mcpServers` files, by name; a later file wins. `errors` are files that did not load."""

    servers: dict[str, McpServer] = Field(default_factory=dict)
    files: list[str] = Field(default_factory=list)
    errors: list[tuple[str, str]] = Field(default_factory=list)
    """(file, problem) per file or server that did not load."""

    def add_file(self, path: Path) -> None:
        """Read one `mcpServers` JSON file; problems are recorded in `errors`, never raised."""
        self.files.append(str(path))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            self.errors.append((str(path), f"cannot read: {exc.strerror or exc}"))
            return
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.errors.append((str(path), f"not valid JSON: {exc}"))
            return
        servers = data.get("mcpServers") if isinstance(data, dict) else None
        if not isinstance(servers, dict):
            self.errors.append((str(path), "expected an object with an 'mcpServers' object"))
            return
        for name, raw in servers.items():
            try:
                server, _ = parse_server(str(name), raw, str(path))
            except ValueError as exc:
                self.errors.append((str(path), str(exc)))
                continue
            self.servers[server.name] = server


def registry_files_for(directory: Path) -> list[Path]:
    """The `mcpServers` files that go with a cards folder: its own `.mcp.json`, and the project's.

    Claude Code keeps agents in `<project>/.claude/agents/` and servers in `<project>/.mcp.json`, so a
    folder pointed at as is finds the servers its cards name.
    """
    found: list[Path] = []
    resolved = directory.resolve()
    if resolved.name == "agents" and resolved.parent.name == ".claude":
        found.append(directory / ".." / ".." / ".mcp.json")
    found.append(directory / ".mcp.json")
    return [f for f in found if f.is_file()]
