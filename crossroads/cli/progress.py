"""Live progress of `crossroads ask` and `crossroads chat` on a terminal.

A spinner and one dim line per step on stderr, then the answer on stdout as the model writes it. Built on
`Orchestrator.stream()`. The answer's text deltas are printed as they arrive (raw text: markdown cannot
be rendered before it is complete), so stdout holds the same answer text as without a terminal.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from crossroads.cli.app import err

if TYPE_CHECKING:
    from crossroads.events import StreamEvent
    from crossroads.orchestrator import Orchestrator
    from crossroads.result import AskResult


def progress_line(event: StreamEvent) -> str | None:
    """The dim stderr line an event gets, if any."""
    if event.type == "route":
        d = event.decision
        chosen = ", ".join(f"{t.agent} {t.confidence:.2f}" for t in d.targets) or "no specialist fits"
        return f"route ({d.stage}): {chosen}"
    if event.type == "tool_called":
        return f"  {event.agent} → {event.name}"
    if event.type == "handoff":
        h = event.record
        return f"  handoff {h.source} → {h.target}" + ("" if h.accepted else f" (refused: {h.note})")
    if event.type == "model_request" and event.record.attempts:
        return "\n".join(f"  {a.model}: {a.error[:80]}; waited {a.wait_s:.1f} s" for a in event.record.attempts)
    return None


def _status_text(event: StreamEvent) -> str | None:
    if event.type == "specialist_started":
        return f"{event.agent} is answering…"
    if event.type == "synthesis_started":
        return "merging the answers…"
    return None


async def ask_with_progress(
    orchestrator: Orchestrator, question: str, agent: str | None, **options: Any
) -> tuple[AskResult, bool]:
    """`orchestrator.ask()` with each step shown as it happens and the answer printed as it streams.

    Returns the result and whether its answer was printed already (it was, unless it was empty).
    `options` go to `Orchestrator.stream` (e.g. `conversation`).
    """
    from rich.markup import escape

    from crossroads.errors import RunError

    answering = False
    with err.status("routing…", spinner="dots") as status:
        async for event in orchestrator.stream(question, agent=agent, **options):
            if event.type == "text_delta":
                if not answering:
                    answering = True
                    status.stop()
                sys.stdout.write(event.delta)
                sys.stdout.flush()
                continue
            if event.type in ("done", "error") and answering:
                sys.stdout.write("\n")
                sys.stdout.flush()
            if event.type == "done":
                return event.result, answering
            if event.type == "error":
                raise event.to_error()
            line = progress_line(event)
            if line is not None and not answering:  # once the answer streams, notes would tear it apart
                err.print(f"[dim]{escape(line)}[/]", highlight=False)
            if (text := _status_text(event)) is not None:
                status.update(text)
    raise RunError("the ask ended without a result")
