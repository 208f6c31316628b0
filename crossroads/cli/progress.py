"""Live progress of `crossroads ask` on a terminal: a spinner and one dim line per step, on stderr.

Built on `Orchestrator.stream()`; stdout (the answer) is the same as without a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossroads.cli.app import err

if TYPE_CHECKING:
    from crossroads.orchestrator import Orchestrator
    from crossroads.result import AskResult


async def ask_with_progress(orchestrator: Orchestrator, question: str, agent: str | None) -> AskResult:
    """`orchestrator.ask()` with each routing decision, tool call, handoff and retry shown as it happens."""
    from rich.markup import escape

    from crossroads.errors import RunError

    def note(text: str) -> None:
        err.print(f"[dim]{escape(text)}[/]", highlight=False)

    with err.status("routing…", spinner="dots") as status:
        async for event in orchestrator.stream(question, agent=agent):
            if event.type == "route":
                d = event.decision
                note(
                    f"route ({d.stage}): "
                    + (", ".join(f"{t.agent} {t.confidence:.2f}" for t in d.targets) or "no specialist fits")
                )
            elif event.type == "specialist_started":
                status.update(f"{event.agent} is answering…")
            elif event.type == "tool_called":
                note(f"  {event.agent} → {event.name}")
            elif event.type == "handoff":
                h = event.record
                note(f"  handoff {h.source} → {h.target}" + ("" if h.accepted else f" (refused: {h.note})"))
            elif event.type == "model_request":
                for attempt in event.record.attempts:
                    note(f"  {attempt.model}: {attempt.error[:80]}; waited {attempt.wait_s:.1f} s")
            elif event.type == "synthesis_started":
                status.update("merging the answers…")
            elif event.type == "done":
                return event.result
            elif event.type == "error":
                raise event.to_error()
    raise RunError("the ask ended without a result")
