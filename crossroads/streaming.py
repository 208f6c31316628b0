"""The events of one ask as an async iterator (what `Orchestrator.stream()` returns).

The ask runs in its own task; a `Trace` listener puts every event it records on a queue, and the
iterator reads the queue. The final answer is sent as text deltas just before `done` (a delta stream of
the answer text, whatever model produced it), so a client can render progressively without a second
code path. Leaving the iteration early cancels the ask.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable

import structlog

from crossroads.errors import CrossroadsError
from crossroads.events import Done, ErrorEvent, StreamEvent, TextDelta
from crossroads.result import AskResult
from crossroads.trace import Trace

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


async def stream_events(run: Callable[[], Awaitable[AskResult]], trace: Trace) -> AsyncGenerator[StreamEvent, None]:
    """Run `run()` (an ask recording into `trace`) and yield its events until `done` or `error`."""
    queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()

    def listen(event: StreamEvent) -> None:
        if isinstance(event, Done):  # the answer's text first, so `done` stays the last event
            for delta in text_deltas(event.result.answer):
                queue.put_nowait(TextDelta(trace_id=event.trace_id, delta=delta))
        queue.put_nowait(event)

    trace.listeners.append(listen)

    async def ask() -> None:
        with structlog.contextvars.bound_contextvars(trace_id=trace.trace_id):
            try:
                await run()
            except CrossroadsError:
                pass  # the pipeline emitted its error event
            except Exception as exc:  # a bug: report it to the consumer rather than hang the stream
                queue.put_nowait(ErrorEvent.of(exc).model_copy(update={"trace_id": trace.trace_id}))
                raise
            finally:
                queue.put_nowait(None)

    task = asyncio.create_task(ask(), name=f"crossroads-ask-{trace.trace_id}")
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        task.cancel()  # the consumer stopped early: stop the ask too (a no-op when it has finished)
        await asyncio.gather(task, return_exceptions=True)  # errors were already sent as an ErrorEvent
