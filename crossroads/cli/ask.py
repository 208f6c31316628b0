"""`crossroads ask`: answer a question and show how it was answered."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, JsonOpt, check_text, err, guarded, out, read_text_arg
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags, settings_from_flags

if TYPE_CHECKING:
    from crossroads.result import AskResult


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


@guarded
def ask(
    question: Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")],
    json_out: JsonOpt = False,
    agent: Annotated[str | None, typer.Option("--agent", help="Ask this specialist directly.")] = None,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec for every role.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Base URL of the provider.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Wall time of the whole ask (s).")] = None,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
    conversation: Annotated[
        str | None,
        typer.Option("--conversation", help="Continue (or start) this conversation: a follow-up of its turns."),
    ] = None,
) -> None:
    """Answer a technical question with the right specialists."""
    text = read_text_arg(question)  # undecodable input is exit 2 before anything is loaded or asked
    check_text(agent, "--agent")
    settings = settings_from_flags(
        config, cards, graph, model=model, base_url=base_url, timeout=timeout, **card_flags(strict, no_builtin)
    )
    from crossroads.errors import RunError
    from crossroads.orchestrator import Orchestrator

    async def run() -> None:
        async with Orchestrator(settings, trace_store=True) as orchestrator:
            if err.is_terminal and not json_out:  # live progress on stderr, the answer streamed to stdout
                from crossroads.cli.progress import ask_with_progress

                result, printed = await ask_with_progress(orchestrator, text, agent, conversation=conversation)
            else:
                result, printed = await orchestrator.ask(text, agent=agent, conversation=conversation), False
            # Printed before the orchestrator closes (which flushes the trace store): a failure there
            # still exits 1, but never after a computed answer was lost.
            show(result, json_out, answer_printed=printed)

    try:
        asyncio.run(run())
    except RunError as exc:
        if json_out and exc.partial is not None:
            print(exc.partial.model_dump_json(), flush=True)
        raise


def show(result: AskResult, json_out: bool, *, answer_printed: bool = False) -> None:
    """The answer on stdout, as JSON or rendered; flushed at once so it survives a later failure."""
    if json_out:
        print(result.model_dump_json(), flush=True)
    else:
        render(result, answer_printed=answer_printed)
        sys.stdout.flush()


def render(result: AskResult, *, answer_printed: bool = False) -> None:
    """The answer on stdout (unless it was streamed there already), then a compact trace on stderr."""
    from rich.markdown import Markdown
    from rich.markup import escape
    from rich.tree import Tree

    if answer_printed:
        pass
    elif out.is_terminal:
        out.print(Markdown(result.answer))
    else:  # piped: the answer's markdown as is, never cropped to a terminal width
        print(result.answer)
    route = result.route
    tree = Tree(f"[bold]trace[/] {result.trace_id} ({result.duration_ms:.0f} ms)")
    if route.abstain:
        tree.add(f"route ({route.stage}): abstained: {escape(route.reason)}")
    else:
        node = tree.add(f"route ({route.stage}): " + ", ".join(f"{t.agent} {t.confidence:.2f}" for t in route.targets))
        for t in route.targets:
            if t.sub_question != result.question:
                node.add(f"{t.agent}: {escape(t.sub_question[:100])}")
    for branch in result.specialists:
        state = f" [red]{escape(branch.error)}[/]" if branch.error else ""
        tree.add("path: " + " -> ".join(branch.path) + state)
    for h in result.handoffs:
        state = "" if h.accepted else f" [red]refused: {escape(h.note)}[/]"
        tree.add(f"handoff {h.source} -> {h.target} (hop {h.hop}){state}")
    for call in result.tool_calls:
        summary = escape(_tool_summary(call.result))
        tree.add(f"tool {call.agent}.{call.name} {call.duration_ms:.0f} ms: {summary}")
    u = result.usage
    tree.add(f"model requests: {u.requests}, tokens in/out: {u.input_tokens}/{u.output_tokens}")
    err.print(tree)


def _tool_summary(result: object) -> str:
    if not isinstance(result, dict):
        return str(result)[:80]
    if "verified" in result:
        return f"verified={result['verified']}"
    if result.get("timed_out"):
        return "timed out"
    return "ok" if result.get("ok") else f"failed: {str(result.get('error'))[:60]}"
