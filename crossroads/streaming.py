"""The events of one ask as an async iterator (what `Orchestrator.stream()` returns), and its answer's deltas.

The ask runs in its own task; a `Trace` listener puts every event it records on a queue, and the
iterator reads the queue. Leaving the iteration early cancels the ask.

The answer's text deltas are real: `AnswerStream` is handed to the run that produces the final answer
(the single specialist, or the synthesiser of a multi-domain ask), which sends each piece as the
provider's tokens arrive. Only answers no model streams (out of scope, the one surviving answer of a
multi-domain ask) are cut into pieces with `text_deltas` once they are known. Either way the deltas,
joined, are `done.result.answer`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from crossroads.errors import CrossroadsError
from crossroads.events import ErrorEvent, StreamEvent, TextDelta
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


@dataclass
class AnswerStream:
    """Where the final answer's pieces go while it is produced: text deltas on the ask's trace.

    The run that writes the answer calls `send` for every piece as it arrives, so nothing is buffered
    after the first token. `text` is everything sent so far: the answer once the run ends, and the
    partial answer when it fails half-way (a failure after the first token cannot be retried, because
    the client already has those tokens).
    """

    trace: Trace
    parts: list[str] = field(default_factory=list)

    def send(self, delta: str) -> None:
        if delta:
            self.parts.append(delta)
            self.trace.emit(TextDelta(delta=delta))

    def send_whole(self, text: str) -> None:
        """An answer no model streamed, in word-boundary pieces (only while nothing was sent yet)."""
        if not self.parts:
            for piece in text_deltas(text):
                self.send(piece)

    @property
    def started(self) -> bool:
        return bool(self.parts)

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def stream_events(run: Callable[[], Awaitable[AskResult]], trace: Trace) -> AsyncGenerator[StreamEvent, None]:
    """Run `run()` (an ask recording into `trace`) and yield its events until `done` or `error`."""
    queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()

    def listen(event: StreamEvent) -> None:
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
