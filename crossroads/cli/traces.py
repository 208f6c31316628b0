"""`crossroads traces` and `crossroads trace ID`: browse the stored traces of past asks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossroads.cli.app import ConfigOpt, JsonOpt, guarded, out
from crossroads.cli.common import settings_from_flags

if TYPE_CHECKING:
    from datetime import datetime

    from rich.tree import Tree

    from crossroads.result import AskResult
    from crossroads.storage import TraceStore


def register(app: typer.Typer) -> None:
    app.command("traces")(traces)
    app.command("trace")(trace)


def _open(config: Any) -> TraceStore:
    """The configured store, for reading. A SQLite file that does not exist yet is not created."""
    from crossroads.errors import ConfigError
    from crossroads.storage import open_store, sqlite_path

    settings = settings_from_flags(config)
    target = settings.trace_db_target()
    if target is None:
        raise ConfigError('the trace store is off (trace_db = "off"); nothing is stored')
    path = sqlite_path(target)
    if path is not None and not path.exists():
        raise ConfigError(f"no trace store at {path} yet: nothing has been asked with it on")
    return open_store(target, max_bytes=settings.trace_max_bytes, pool_size=1)


def parse_moment(text: str | None) -> datetime | None:
    """An ISO date/time (UTC unless it says otherwise) or an age such as `30m`, `2h`, `7d`."""
    import re
    from datetime import UTC, datetime, timedelta

    from crossroads.errors import InputError

    if text is None:
        return None
    age = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if age:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since '{text}': use an ISO time (2026-05-01T12:00) or an age (30m, 2h, 7d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@guarded
def traces(
    last: Annotated[int, typer.Option("--last", "-n", help="How many of the most recent traces.", min=1)] = 20,
    status: Annotated[str | None, typer.Option("--status", help="Only this status (ok, error, ...).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only traces routed to this specialist.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only newer: ISO time or age (30m, 2h, 7d).")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List stored traces, newest first: id, time, status, route, duration, tokens."""
    from rich.markup import escape
    from rich.table import Table

    moment = parse_moment(since)
    store = _open(config)
    try:
        rows = store.recent(last, status=status, agent=agent, since=moment)
    finally:
        store.close()
    if json_out:
        print(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table(title=f"Last {len(rows)} traces")
    for col in ("id", "time (UTC)", "status", "route", "ms", "tokens", "question"):
        table.add_column(col, overflow="fold")
    for r in rows:
        status_text = r.status if r.status == "ok" else f"[red]{escape(r.status)}[/]"
        table.add_row(
            r.trace_id[:12],
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            status_text,
            ", ".join(r.route) or "-",
            f"{r.duration_ms:.0f}",
            str(r.total_tokens),
            escape(r.question[:60]),
        )
    out.print(table)


@guarded
def trace(
    trace_id: Annotated[str, typer.Argument(help="Trace id, or a unique prefix of at least 6 characters.")],
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show one stored trace as a tree: route -> specialists -> handoffs -> tool calls -> model requests."""
    from crossroads.errors import InputError

    store = _open(config)
    try:
        result = store.get(trace_id)
    finally:
        store.close()
    if result is None:
        raise InputError(f"no trace '{trace_id}' in {store.location} (list them with `crossroads traces`)")
    if json_out:
        print(result.model_dump_json())
        return
    out.print(trace_tree(result))


def trace_tree(result: AskResult) -> Tree:
    """The whole trace of one ask as a rich tree, one node per agent visit with its tools and model calls."""
    from rich.markup import escape
    from rich.tree import Tree

    u = result.usage
    status = "[green]ok[/]" if result.status == "ok" else f"[red]{result.status}[/]"
    root = Tree(
        f"[bold]trace[/] {result.trace_id} {status} {result.duration_ms:.0f} ms, "
        f"{u.requests} model requests, tokens {u.input_tokens} in / {u.output_tokens} out"
    )
    root.add(f"question: {escape(result.question[:200])}")
    if result.error:
        root.add(f"[red]error: {escape(result.error)}[/]")
    route = result.route
    if route.abstain or not route.targets:
        node = root.add(f"route ({route.stage}, {route.duration_ms:.0f} ms): abstained {escape(route.reason)}")
    else:
        node = root.add(
            f"route ({route.stage}, {route.duration_ms:.0f} ms): "
            + ", ".join(f"{t.agent} {t.confidence:.2f}" for t in route.targets)
        )
    shown: set[str] = set()
    for branch in result.specialists:
        state = f" [red]{escape(branch.error)}[/]" if branch.error else ""
        spec = node.add(f"[bold]specialist {branch.agent}[/] path {' -> '.join(branch.path)}{state}")
        for agent in branch.path[1:] or [branch.agent]:
            if agent not in shown:
                shown.add(agent)
                _agent_node(
                    spec if agent == branch.agent else spec.add(f"handoff target [bold]{agent}[/]"), agent, result
                )
    for agent in sorted({r.agent for r in result.model_requests} | {c.agent for c in result.tool_calls}):
        if agent not in shown:  # the synthesiser, or agents of a branch that failed before it was recorded
            _agent_node(node.add(f"[bold]{agent}[/]"), agent, result)
    return root


def _agent_node(node: Tree, agent: str, result: AskResult) -> None:
    from rich.markup import escape

    for h in result.handoffs:
        if h.source == agent:
            state = "" if h.accepted else f" [red]refused: {escape(h.note)}[/]"
            node.add(f"handoff {h.source} -> {h.target} (hop {h.hop}): {escape(h.reason[:80])}{state}")
    for call in result.tool_calls:
        if call.agent == agent:
            state = "ok" if call.ok else "[red]failed[/]"
            args = escape(json.dumps(call.arguments, default=str)[:80])
            node.add(f"tool {call.name} {call.duration_ms:.0f} ms {state}: {args}")
    for req in result.model_requests:
        if req.agent == agent:
            retries = f", {len(req.attempts)} failed attempts" if req.attempts else ""
            node.add(
                f"model request {req.model} {req.duration_ms:.0f} ms, "
                f"tokens {req.input_tokens} in / {req.output_tokens} out{retries}"
            )
