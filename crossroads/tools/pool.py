"""Slot allocation and the pool of pre-started one-shot sandboxes.

A pooled sandbox has already paid interpreter start-up, the sympy/numpy imports and the seccomp filter,
and waits for its code on stdin. It serves exactly one request and is then killed and swept; a background
thread starts its replacement. One sandbox per request (rather than a forked zygote) keeps uid, pid
namespace and /tmp private to each request.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from crossroads.tools.sandbox import BASE_UID, Sandbox, sweep_uid

MAX_SLOTS = 64
"""Concurrent sandboxes (pooled + running); each slot is its own uid, BASE_UID + slot."""


class SlotAllocator:
    """Hands out slot numbers so concurrent sandboxes never share a uid, across threads *and* processes.

    Every toolbox on the machine (a server, a CLI call, a test run) draws from the same uid range, and a
    slot's teardown kills everything its uid owns, so a slot is held through an exclusive `flock` on a
    per-slot file; the kernel drops the lock if this process dies.
    """

    def __init__(self, count: int = MAX_SLOTS, lock_dir: Path | None = None) -> None:
        self._free = list(range(count))
        self._held: dict[int, int] = {}
        self._cond = threading.Condition()
        self._lock_dir = lock_dir or _default_lock_dir()

    def acquire(self, timeout: float | None = None, stop: Callable[[], bool] | None = None) -> int | None:
        """A free slot, held until `release`; None after `timeout` or as soon as `stop()` is true."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if stop is not None and stop():
                    return None
                for slot in list(self._free):
                    fd = self._try_lock(slot)
                    if fd is None:
                        continue
                    self._free.remove(slot)
                    if not sweep_uid(BASE_UID + slot):  # left over by a process that died: skip it
                        os.close(fd)
                        continue
                    self._held[slot] = fd
                    return slot
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                # Local releases notify; slots held by other processes are polled.
                self._cond.wait(0.05 if remaining is None else min(0.05, remaining))

    def release(self, slot: int, *, clean: bool = True) -> None:
        """Return a slot; a slot whose processes could not be swept stays locked and out of use."""
        if not clean:
            return
        with self._cond:
            fd = self._held.pop(slot, None)
            if fd is not None:
                os.close(fd)
            self._free.append(slot)
            self._cond.notify()

    def _try_lock(self, slot: int) -> int | None:
        fd = os.open(self._lock_dir / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd


def _default_lock_dir() -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    path = base / "crossroads-sandbox"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class WarmPool:
    """Keeps up to `size` pre-started sandboxes; `take()` returns a ready one or None (then spawn cold)."""

    def __init__(self, size: int, spawn: Callable[[], Sandbox | None], discard: Callable[[Sandbox], None]):
        self.size = size
        self._spawn = spawn
        self._discard = discard
        self._entries: list[Sandbox] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.size <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._refill_loop, name="crossroads-sandbox-pool", daemon=True)
        self._thread.start()
        self._wake.set()

    def take(self) -> Sandbox | None:
        """A ready sandbox (its filter is loaded and preloads imported), or None when none is ready."""
        with self._lock:
            entries = list(self._entries)
        for sandbox in entries:
            state = sandbox.poll_ready()
            if state is False:
                continue
            with self._lock:
                if sandbox not in self._entries:
                    continue  # another thread took it
                self._entries.remove(sandbox)
            if state is None:
                self._discard(sandbox)
                self._wake.set()
                continue
            return sandbox
        return None

    def refill(self) -> None:
        """Ask the background thread to top the pool up (called once a request has finished)."""
        self._wake.set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until every pooled sandbox is ready (tests and benchmarks); False on time-out."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                entries = list(self._entries)
            if len(entries) >= self.size and all(e.poll_ready(0.01) for e in entries):
                return True
            time.sleep(0.01)
        return False

    def _refill_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while not self._closed:
                with self._lock:
                    if len(self._entries) >= self.size:
                        break
                sandbox = self._spawn()
                if sandbox is None:
                    break
                with self._lock:
                    if self._closed:
                        closing = True
                    else:
                        closing = False
                        self._entries.append(sandbox)
                if closing:
                    self._discard(sandbox)
            if self._closed:
                return

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            entries, self._entries = self._entries, []
        for sandbox in entries:
            self._discard(sandbox)
