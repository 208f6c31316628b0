"""The Toolbox: the one object the orchestrator owns for running untrusted code.

It probes once which isolation tier works here, logs it, keeps the pool of pre-started sandboxes and
runs programs off the event loop. It **fails closed**: when no safe tier exists, every call returns
`code execution unavailable: <reason>` and nothing runs. There is no in-process fallback.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from crossroads.config import SandboxSettings
from crossroads.tools.models import PythonResult, Tier
from crossroads.tools.pool import SlotAllocator, WarmPool
from crossroads.tools.runtime import runtime_path, unreadable_component
from crossroads.tools.sandbox import (
    BASE_UID,
    MAX_SOURCE,
    Limits,
    Sandbox,
    SandboxSetupError,
    find_bwrap,
    set_child_subreaper,
    sweep_uid,
)

if TYPE_CHECKING:
    from crossroads.tools.models import MathResult, SqlResult

log = structlog.get_logger("crossroads.tools")

PRELOAD = ("sympy", "numpy")
"""Modules every pooled sandbox has imported before its request arrives."""
CANCEL_REAP_SECONDS = 2.0
"""How long a cancelled call waits for its worker thread to reap and sweep the killed sandbox."""


@dataclass
class CancelToken:
    """Shared by a tool call's task and its worker thread: cancelling kills the call's sandbox at once.

    `asyncio.to_thread` cannot stop its thread, so without this a cancelled call (a dropped client,
    an ask's deadline) left its snippet running until the snippet's own deadline.
    """

    cancelled: bool = False
    sandbox: Sandbox | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, sandbox: Sandbox) -> bool:
        """Register the sandbox about to run; False when the call was cancelled already (do not run)."""
        with self._lock:
            if self.cancelled:
                return False
            self.sandbox = sandbox
            return True

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            sandbox = self.sandbox
        if sandbox is not None:
            sandbox.kill()


@dataclass(frozen=True)
class TierProbe:
    """The sandbox tier found at start-up, and why a better one is unavailable."""

    tier: Tier
    reason: str = ""


class Toolbox:
    """Sandboxed tools: `run_python`, `run_program` (and `check_math` / `run_sql` built on it)."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings.model_validate({})
        self.runtime = runtime_path(self.settings.runtime)
        self._probe = TierProbe("unavailable", "the toolbox has not been started")
        self._started = False
        self._start_lock = asyncio.Lock()
        self._slots = SlotAllocator()
        self._pool: WarmPool | None = None
        self._bwrap: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def tier(self) -> Tier:
        return self._probe.tier

    @property
    def unavailable_reason(self) -> str:
        return self._probe.reason

    async def start(self) -> None:
        """Probe the tier and start filling the pool; calling it again does nothing."""
        async with self._start_lock:
            if self._started:
                return
            self._probe = await asyncio.to_thread(self._probe_tier)
            self._started = True
            if self._probe.tier == "bwrap":
                log.info("sandbox ready", tier=self.tier, runtime=str(self.runtime))
                self._pool = WarmPool(self.settings.pool_size, self._spawn_pooled, self._discard)
                self._pool.start()
            else:
                log.warning("code execution unavailable", tier=self.tier, reason=self._probe.reason)

    async def aclose(self) -> None:
        """Kill every pooled sandbox and sweep their uids; the toolbox can be started again."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.close)
        self._started = False
        self._probe = TierProbe("unavailable", "the toolbox has been closed")

    async def __aenter__(self) -> Toolbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait_warm(self, timeout: float = 30.0) -> bool:
        """Wait until the pool is full of ready sandboxes (benchmarks and tests)."""
        await self.start()
        if self._pool is None:
            return False
        return await asyncio.to_thread(self._pool.wait_ready, timeout)

    # -- tools ----------------------------------------------------------------------------------------

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        """Run an untrusted snippet in a fresh sandbox; the snippet's own failures are in the result."""
        return await self.run_program(code, timeout)

    async def run_program(self, source: str, timeout: float | None = None, *, pooled: bool = True) -> PythonResult:
        """Run a Python program in the sandbox: the primitive the math and SQL tools build on.

        The program's stdout is returned as is; a caller that needs structured output prints JSON and
        parses `stdout` itself (the sandbox never interprets it).
        """
        if not self._started:
            await self.start()
        if self.tier == "unavailable":
            return PythonResult(ok=False, error=f"code execution unavailable: {self._probe.reason}")
        if len(source.encode("utf-8", "surrogateescape")) > MAX_SOURCE:
            too_long = f"the program is longer than {MAX_SOURCE} bytes"
            return PythonResult(ok=False, error=too_long, tier=self.tier)
        wall = min(float(timeout), 300.0) if timeout is not None and timeout > 0 else self.settings.timeout
        token = CancelToken()
        worker = asyncio.ensure_future(asyncio.to_thread(self._run_sync, source, wall, pooled, token))
        try:
            return await asyncio.shield(worker)
        except asyncio.CancelledError:
            token.cancel()  # SIGKILL now; the worker thread reaps, sweeps and frees the slot
            await asyncio.wait({worker}, timeout=CANCEL_REAP_SECONDS)
            if worker.done() and not worker.cancelled():
                worker.exception()  # retrieved: the result of a cancelled call is not wanted
            raise

    # -- math and SQL tools (crossroads/tools/math_check.py, crossroads/tools/sql.py) ------------------
    # They build a checker program, run it with `run_program` and parse its JSON stdout.

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        from crossroads.tools import math_check

        return await math_check.check_math(self, claim, timeout=timeout)

    async def run_sql(
        self,
        query: str,
        tables: dict[str, list[dict[str, Any]]] | None = None,
        timeout: float | None = None,
    ) -> SqlResult:
        from crossroads.tools import sql

        return await sql.run_sql(self, query, tables, timeout=timeout)

    # -- internals (worker threads) -------------------------------------------------------------------

    def _limits(self, timeout: float | None = None) -> Limits:
        return Limits(timeout=timeout or self.settings.timeout, memory_mb=self.settings.memory_mb)

    def _new_sandbox(
        self, limits: Limits, preload: tuple[str, ...], wait_slot: float | None, token: CancelToken | None = None
    ) -> Sandbox | None:
        slot = self._slots.acquire(wait_slot, stop=(lambda: token.cancelled) if token else None)
        if slot is None:
            return None
        assert self._bwrap is not None
        try:
            return Sandbox(slot=slot, bwrap=self._bwrap, runtime=self.runtime, limits=limits, preload=preload)
        except BaseException:
            self._slots.release(slot, clean=sweep_uid(BASE_UID + slot))
            raise

    def _spawn_pooled(self) -> Sandbox | None:
        try:
            return self._new_sandbox(self._limits(), PRELOAD, wait_slot=0)
        except OSError as exc:
            log.warning("sandbox pool refill failed", error=str(exc))
            return None

    def _discard(self, sandbox: Sandbox) -> None:
        self._slots.release(sandbox.slot, clean=sandbox.close())

    def _run_sync(self, source: str, timeout: float, pooled: bool, token: CancelToken | None = None) -> PythonResult:
        token = token or CancelToken()
        sandbox = None
        if pooled and self._pool is not None and timeout <= self.settings.timeout:
            sandbox = self._pool.take()
        if sandbox is None:
            sandbox = self._new_sandbox(self._limits(timeout), (), wait_slot=None, token=token)
            if sandbox is None:  # cancelled while waiting for a free slot
                return PythonResult(ok=False, error="cancelled", tier=self.tier)
        try:
            if not token.attach(sandbox):
                return PythonResult(ok=False, error="cancelled", tier=self.tier)
            return sandbox.execute(source, timeout)
        except SandboxSetupError as exc:  # the runner could not install its filter: nothing ran
            log.error("sandbox failed closed", error=str(exc))
            return PythonResult(ok=False, error=f"code execution unavailable: {exc}", tier="unavailable")
        finally:
            self._discard(sandbox)
            if self._pool is not None:
                self._pool.refill()  # after the request, so the refill does not compete with it

    def _probe_tier(self) -> TierProbe:
        """Which tier works here: bwrap after a uid drop, verified by running one sandboxed program."""
        if os.geteuid() != 0:
            return TierProbe("unavailable", "the sandbox launcher must run as root to drop to a per-slot uid")
        self._bwrap = find_bwrap()
        if self._bwrap is None:
            return TierProbe("unavailable", "bubblewrap is not installed (apt-get install -y bubblewrap)")
        python = self.runtime / "bin" / "python"
        if not python.exists():
            return TierProbe("unavailable", f"no sandbox runtime at {self.runtime} (run `crossroads setup-sandbox`)")
        blocked = unreadable_component(self.runtime)
        if blocked is not None:
            return TierProbe("unavailable", f"sandbox runtime path {blocked} is not readable by other users")
        set_child_subreaper()
        # Prints the uid only where the uid drop and the socket filter are both in force.
        probe = "import os, socket\ntry:\n    socket.socket()\nexcept PermissionError:\n    print(os.getuid())"
        try:
            sandbox = self._new_sandbox(self._limits(10.0), (), wait_slot=5)
            assert sandbox is not None
            try:
                result = sandbox.execute(probe, 10.0)
            finally:
                self._discard(sandbox)
        except (OSError, SandboxSetupError) as exc:
            return TierProbe("unavailable", f"bubblewrap sandbox failed its probe: {exc}")
        if not result.ok or not result.stdout.strip().isdigit() or int(result.stdout) < BASE_UID:
            lines = (result.error or result.stderr or result.stdout).strip().splitlines()
            detail = lines[-1:] or ["no output"]
            return TierProbe("unavailable", f"bubblewrap sandbox failed its probe: {detail[0]}")
        return TierProbe("bwrap")
