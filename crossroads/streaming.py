"""`Orchestrator.stream()`: the events of one ask, as they happen (see `crossroads.events`).

The ask runs in its own task and writes into a queue through a `Trace` listener; the iterator reads the
queue. The final answer is sent as text deltas just before `done` (a delta stream of the answer text,
whatever model produced it), so a client can render progressively without a second code path.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import structlog

from crossroads.errors import LimitExceeded, RunError
from crossroads.events import Done, ErrorEvent, StreamEvent, TextDelta, from_trace
from crossroads.trace import Trace

if TYPE_CHECKING:
    from crossroads.orchestrator import Orchestrator

_PIECE = re.compile(r"\s*\S+\s*")


def text_deltas(text: str, size: int = 24) -> list[str]:
    """The text cut at word boundaries into pieces of about `size` characters; they join back exactly."""
    pieces: list[str] = []
    current = ""
    for match in _PIECE.finditer(text):
        current += match.group(0)
        if len(current) >= size:
            pieces.append(current)
            current = ""
    consumed = sum(map(len, pieces)) + len(current)
    current += text[consumed:]
    if current:
        pieces.append(current)
    return pieces


async def stream_ask(
    orchestrator: Orchestrator, question: str, agent: str | None = None
) -> AsyncGenerator[StreamEvent, None]:
    """Yield the events of one ask; see `Orchestrator.stream`."""
    question = orchestrator.check_request(question, agent)
    trace = Trace(trace_id=uuid.uuid4().hex)
    queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()

    def listen(kind: str, payload: Any) -> None:
        event = from_trace(kind, payload, trace.trace_id)
        if event is not None:
            queue.put_nowait(event)

    trace.listeners.append(listen)

    async def run() -> None:
        with structlog.contextvars.bound_contextvars(trace_id=trace.trace_id):
            try:
                result = await orchestrator._ask(question, agent, trace)
            except RunError as exc:
                queue.put_nowait(
                    ErrorEvent(
                        trace_id=trace.trace_id,
                        kind=type(exc).__name__,
                        message=str(exc),
                        limit=exc.limit if isinstance(exc, LimitExceeded) else None,
                        partial=exc.partial,
                    )
                )
            except Exception as exc:  # a bug: report it to the consumer rather than hang the stream
                queue.put_nowait(ErrorEvent(trace_id=trace.trace_id, kind=type(exc).__name__, message=str(exc)))
                raise
            else:
                for delta in text_deltas(result.answer):
                    queue.put_nowait(TextDelta(trace_id=trace.trace_id, delta=delta))
                queue.put_nowait(Done(trace_id=trace.trace_id, result=result))
            finally:
                queue.put_nowait(None)

    task = asyncio.create_task(run(), name=f"crossroads-ask-{trace.trace_id}")
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        task.cancel()  # the consumer stopped early: stop the ask too (a no-op when it has finished)
        await asyncio.gather(task, return_exceptions=True)  # errors were already sent as an ErrorEvent
