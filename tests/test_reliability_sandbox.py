"""Issue 17.3 (sandbox half): cancelling a tool call kills its sandboxed snippet at once.

Before, the snippet ran on in its worker thread until its own deadline. Each test starts a busy loop,
waits until its process shows in the process table (by the sandbox slot's uid), cancels, and checks the
table again: nothing of the slot's uid may be alive a second later, and the slot serves the next call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sandbox_support import started_toolbox, uid_processes

from crossroads.tools import Toolbox
from crossroads.tools.sandbox import BASE_UID

pytestmark = pytest.mark.anyio
BUSY = "while True:\n    pass\n"


@pytest.fixture(scope="module")
def toolbox() -> Iterator[Toolbox]:
    yield from started_toolbox(pool_size=0)  # no pooled sandboxes: the only busy slot is the call's


async def _running_uid(toolbox: Toolbox, task: asyncio.Task[object]) -> int:
    """The uid of the call's sandbox, once its snippet is running."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert not task.done(), task
        held = list(toolbox._slots._held)  # the slots this process holds
        if held and len(uid_processes(BASE_UID + held[0])) >= 2:  # bwrap's pid 1 and the snippet
            return BASE_UID + held[0]
        await asyncio.sleep(0.02)
    raise AssertionError("the snippet never started")


async def _gone_within(uid: int, seconds: float) -> float:
    start = time.monotonic()
    while uid_processes(uid):
        elapsed = time.monotonic() - start
        assert elapsed < seconds, f"uid {uid} still has processes {uid_processes(uid)} after {elapsed:.2f} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_cancelling_the_task_kills_the_snippet_at_once(toolbox: Toolbox) -> None:
    task = asyncio.ensure_future(toolbox.run_python(BUSY, timeout=60))
    uid = await _running_uid(toolbox, task)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 1.0  # the cancelled call returns promptly, too
    await _gone_within(uid, 1.0)
    again = await toolbox.run_python("print('next')")  # the slot was released
    assert again.ok and again.stdout == "next\n"


async def test_a_deadline_around_the_call_kills_the_snippet(toolbox: Toolbox) -> None:
    """An ask's wall-time limit cancels its tool calls the same way (`asyncio.timeout`)."""

    async def within_deadline() -> object:
        async with asyncio.timeout(1.5):
            return await toolbox.run_python(BUSY, timeout=60)

    task = asyncio.ensure_future(within_deadline())
    uid = await _running_uid(toolbox, task)
    with pytest.raises(TimeoutError):
        await task
    await _gone_within(uid, 1.0)


async def test_cancel_before_a_slot_is_free_runs_nothing(toolbox: Toolbox) -> None:
    from crossroads.tools.toolbox import CancelToken

    token = CancelToken()
    token.cancel()
    result = await asyncio.to_thread(toolbox._run_sync, "print('never')", 5.0, False, token)
    assert not result.ok and result.error == "cancelled" and result.stdout == ""
