"""`crossroads chat`: an interactive conversation, one question per line, answers streamed as they are written.

Every line is a follow-up of the lines before it (`Orchestrator.stream(..., conversation=ID)`): it is
routed with the previous turn as context and the specialists see the earlier turns. The conversation
is stored in the trace store's database, so `crossroads chat --conversation ID` (or `crossroads ask
--conversation ID`) continues it later. It reads stdin line by line, so it works when stdin is not a
terminal (a script or a test can drive it); on a terminal it shows a prompt and the live progress.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, err, guarded
from crossroads.cli.common import settings_from_flags

if TYPE_CHECKING:
    from crossroads.orchestrator import Orchestrator

EXIT_WORDS = frozenset({"/exit", "/quit", "exit", "quit"})


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)


@guarded
def chat(
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation (default: a new one).")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Ask this specialist directly, every turn.")] = None,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec for every role.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Base URL of the provider.")] = None,
) -> None:
    """Chat with the specialists: each line is a follow-up of the ones before (/exit or end of input ends)."""
    settings = settings_from_flags(config, cards, graph, model=model, base_url=base_url)
    from crossroads.orchestrator import Orchestrator

    async def run() -> None:
        async with Orchestrator(settings, trace_store=True) as orchestrator:
            conversation_id = conversation or orchestrator.new_conversation_id()
            if conversation is not None:
                found = await orchestrator.get_conversation(conversation_id)
                turns = len(found.turns) if found else 0
                err.print(f"[dim]conversation {conversation_id}: {turns} earlier turns[/]", highlight=False)
            else:
                err.print(
                    f"[dim]conversation {conversation_id} (continue it with --conversation {conversation_id})[/]",
                    highlight=False,
                )
            await _loop(orchestrator, conversation_id, agent)

    asyncio.run(run())


async def _loop(orchestrator: Orchestrator, conversation_id: str, agent: str | None) -> None:
    """One ask per line of stdin until /exit or end of input; a failed turn is reported and the chat goes on."""
    from crossroads.cli.progress import ask_with_progress
    from crossroads.errors import CrossroadsError

    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            err.print("[bold]you>[/] ", end="")
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:  # end of input
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in EXIT_WORDS:
            break
        try:
            if err.is_terminal:
                await ask_with_progress(orchestrator, question, agent, conversation=conversation_id)
            else:
                await _plain(orchestrator, question, agent, conversation_id)
        except CrossroadsError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.stdout.write("\n")
        sys.stdout.flush()


async def _plain(orchestrator: Orchestrator, question: str, agent: str | None, conversation_id: str) -> None:
    """The answer streamed to stdout as it is written, without progress lines (stderr is not a terminal)."""
    async for event in orchestrator.stream(question, agent=agent, conversation=conversation_id):
        if event.type == "text_delta":
            sys.stdout.write(event.delta)
            sys.stdout.flush()
        elif event.type == "done":
            sys.stdout.write("\n")
        elif event.type == "error":
            sys.stdout.write("\n")
            raise event.to_error()
