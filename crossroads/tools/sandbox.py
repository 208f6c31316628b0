"""The OS-level sandbox: one untrusted program per unprivileged, namespaced, seccomp-filtered process tree.

Layers, outside in (see the sandbox design note): this root process sets rlimits, NO_NEW_PRIVS and drops
to a per-slot uid (61000 + slot, no passwd entry), then executes *unprivileged* bubblewrap with every
namespace, no network, a minimal read-only filesystem and size-capped tmpfs scratch, spawned with an
empty environment; inside, `_runner.py` installs a seccomp deny-list before it reads the code. Bubblewrap
run by root would map the sandbox to host uid 0 and could read root-owned files, hence the uid drop.

The host side reads both output streams with a 1 MiB cap each, enforces a wall-clock deadline, and then
kills and reaps every process the slot uid still owns, so nothing outlives a call. Exit status, time-out
and truncation are measured here, never parsed from the snippet's output.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from crossroads.tools.models import PythonResult

BASE_UID = 61000
OUTPUT_CAP = 1 << 20
"""Bytes kept per stream; more than this kills the snippet and sets `truncated`."""
META_CAP = 64 << 10
MAX_SOURCE = 1 << 20
SCRATCH_BYTES = 64 << 20
FILE_SIZE_LIMIT = 16 << 20
OPEN_FILES_LIMIT = 256
PROCESS_LIMIT = 64
PRELOAD_CPU_SECONDS = 4
"""CPU seconds a pooled sandbox may spend importing its preloads before its request arrives."""
INNER_PYTHON = "/opt/sbx/bin/python"
RUNNER_SOURCE = (Path(__file__).with_name("_runner.py")).read_text()

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


class SandboxSetupError(RuntimeError):
    """The sandbox could not be started or its runner could not install its filter (fails closed)."""


@dataclass(frozen=True)
class Limits:
    """Time and memory limits of one sandboxed run."""

    timeout: float
    memory_mb: int


def set_child_subreaper() -> None:
    """Orphaned sandbox processes re-parent to us instead of a lazily-reaping PID 1, so we can reap them."""
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def bwrap_argv(bwrap: str, runtime: Path, preload: tuple[str, ...], meta_fd: int) -> list[str]:
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-all",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/scratch",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = Path("/") / name
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), f"/{name}"]
    argv += [
        "--ro-bind",
        "/etc/ld.so.cache",
        "/etc/ld.so.cache",
        "--ro-bind",
        str(runtime),
        "/opt/sbx",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(SCRATCH_BYTES),
        "--tmpfs",
        "/tmp",
        "--size",
        str(SCRATCH_BYTES),
        "--tmpfs",
        "/scratch",
        "--remount-ro",
        "/",
        "--chdir",
        "/scratch",
        INNER_PYTHON,
        "-I",
        "-B",
        "-c",
        RUNNER_SOURCE,
        str(meta_fd),
        ",".join(preload),
    ]
    return argv


def _preexec(uid: int, cpu_seconds: int, memory_mb: int) -> None:
    """Runs in the forked child before exec: limits first, then the irreversible uid drop."""
    os.umask(0o077)
    for limit, value in (
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_AS, memory_mb << 20),
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT),
        (resource.RLIMIT_NOFILE, OPEN_FILES_LIMIT),
        (resource.RLIMIT_NPROC, PROCESS_LIMIT),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
    ):
        resource.setrlimit(limit, (value, value))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("uid drop did not take effect")


class Sandbox:
    """One started sandbox; used for exactly one program, then killed and swept."""

    def __init__(self, *, slot: int, bwrap: str, runtime: Path, limits: Limits, preload: tuple[str, ...] = ()) -> None:
        self.slot = slot
        self.uid = BASE_UID + slot
        self.limits = limits
        self.preload = preload
        cpu = math.ceil(limits.timeout) + 1 + (PRELOAD_CPU_SECONDS if preload else 0)
        meta_r, meta_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                bwrap_argv(bwrap, runtime, preload, meta_w),
                env={},
                cwd="/",
                close_fds=True,
                pass_fds=(meta_w,),
                start_new_session=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=lambda: _preexec(self.uid, cpu, limits.memory_mb),
            )
        except BaseException:
            os.close(meta_r)
            raise
        finally:
            os.close(meta_w)
        self.meta_fd = meta_r
        self.started = time.monotonic()
        self._ready = False
        self._meta = bytearray()
        self._closed = False
        self._clean = False
        self._kill_lock = threading.Lock()
        """Orders `kill()` (any thread) before `close()` reaps, so a signal never reaches a reused pid."""

    # -- readiness (pool) ---------------------------------------------------------------------------

    def poll_ready(self, wait: float = 0.0) -> bool | None:
        """True once the runner has its filter in place, None when it died during set-up."""
        if self._ready:
            return True
        if self.proc.poll() is not None and not _readable(self.meta_fd, 0):
            return None
        if not _readable(self.meta_fd, wait):
            return False
        chunk = os.read(self.meta_fd, META_CAP)
        if not chunk:
            return None
        self._meta += chunk
        if self._meta[:1] == b"R":
            self._ready = True
            del self._meta[:1]
            return True
        return None

    # -- one request ----------------------------------------------------------------------------------

    def execute(self, source: str, timeout: float) -> PythonResult:
        """Send `source`, collect its output under the caps and the deadline, then tear everything down."""
        start = time.monotonic()
        deadline = start + timeout
        data = source.encode("utf-8", "surrogateescape")
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        out, err, meta = bytearray(), bytearray(), self._meta
        timed_out = truncated = False
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, out)
        sel.register(self.proc.stderr, selectors.EVENT_READ, err)
        sel.register(self.meta_fd, selectors.EVENT_READ, meta)
        try:
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(remaining):
                    buf: bytearray = key.data
                    cap = META_CAP if buf is meta else OUTPUT_CAP
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    room = cap - len(buf)
                    buf += chunk[:room]
                    if len(chunk) > room and buf is not meta:
                        truncated = True
                    if len(chunk) > room:
                        sel.unregister(key.fileobj)
                if truncated:
                    break
            if not timed_out and not truncated:
                try:
                    self.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            sel.close()
            self.close()
        duration_ms = (time.monotonic() - start) * 1000
        return self._result(out, err, bytes(meta), timed_out, truncated, duration_ms, timeout)

    def _result(
        self,
        out: bytearray,
        err: bytearray,
        meta: bytes,
        timed_out: bool,
        truncated: bool,
        duration_ms: float,
        timeout: float,
    ) -> PythonResult:
        rc = self.proc.returncode
        exit_code = None if rc is None else (128 - rc if rc < 0 else rc)
        if meta[:1] == b"R":
            meta = meta[1:]
        report = _parse_meta(meta)
        if "setup_error" in report:
            raise SandboxSetupError(f"sandbox runner failed to start: {report['setup_error']}")
        reported = report.get("error")
        error = reported if isinstance(reported, str) else None
        if timed_out:
            error = f"TimeoutError: the program was stopped after {timeout:g} s of wall time"
        elif truncated:
            error = f"OutputLimitExceeded: the program was stopped after {OUTPUT_CAP} bytes on one stream"
        elif error is None and exit_code not in (0, None):
            error = _describe_exit(exit_code)
        return PythonResult(
            ok=exit_code == 0 and not timed_out and not truncated,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            error=error,
            exit_code=exit_code,
            timed_out=timed_out,
            truncated=truncated,
            duration_ms=round(duration_ms, 2),
            tier="bwrap",
        )

    def kill(self) -> None:
        """SIGKILL the sandbox now, from any thread (a cancelled call); the thread running it still reaps.

        The process group holds bubblewrap; everything inside the sandbox runs as the slot uid, in its
        own session, so it is signalled by uid as well. Nothing is reaped here: `close()` does that.
        """
        with self._kill_lock:
            if self._closed:
                return
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid, _, zombie in _uid_processes(self.uid):
                if not zombie:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def close(self) -> bool:
        """Kill the process group, sweep the slot uid, reap (idempotent); True when nothing is left."""
        with self._kill_lock:
            if self._closed:
                return self._clean
            self._closed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        os.close(self.meta_fd)
        self._clean = sweep_uid(self.uid)
        return self._clean


def _readable(fd: int, wait: float) -> bool:
    sel = selectors.DefaultSelector()
    try:
        sel.register(fd, selectors.EVENT_READ)
        return bool(sel.select(wait))
    finally:
        sel.close()


def _parse_meta(meta: bytes) -> dict[str, object]:
    import json

    try:
        report = json.loads(meta.decode("utf-8", "replace")) if meta.strip() else {}
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def _describe_exit(exit_code: int) -> str:
    if exit_code > 128:
        try:
            name = signal.Signals(exit_code - 128).name
        except ValueError:
            name = f"signal {exit_code - 128}"
        hint = " (CPU time limit)" if name == "SIGXCPU" else ""
        return f"ProcessKilled: the program was killed by {name}{hint} (exit status {exit_code})"
    return f"the program exited with status {exit_code}"


def _uid_processes(uid: int) -> list[tuple[int, int, bool]]:
    """(pid, ppid, is_zombie) of every process whose real uid is `uid` (a /proc scan, about 1 ms)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as fh:
                text = fh.read(2048)
            real_uid = int(text.split(b"\nUid:", 1)[1].split(None, 1)[0])
            if real_uid != uid:
                continue
            ppid = int(text.split(b"\nPPid:", 1)[1].split(None, 1)[0])
            zombie = text.split(b"\nState:", 1)[1].split(None, 1)[0] == b"Z"
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(name), ppid, zombie))
    return found


def sweep_uid(uid: int, grace: float = 2.0) -> bool:
    """SIGKILL and reap everything `uid` owns; True when nothing of it is left alive.

    The pid namespace already kills a sandbox's processes when its pid 1 dies; this is the second
    layer, and the one that reaps pid 1 itself, which re-parents to us (the subreaper) on exit.
    """
    me = os.getpid()
    end = time.monotonic() + grace
    while True:
        procs = _uid_processes(uid)
        if not any(not zombie or ppid == me for _, ppid, zombie in procs):
            return True  # zombies of other parents are dead and hold nothing
        for pid, _, zombie in procs:
            if not zombie:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid, ppid, _ in procs:
            if ppid == me:
                _reap(pid, end)
        if time.monotonic() > end:
            return False
        if any(ppid != me and not zombie for _, ppid, zombie in procs):
            time.sleep(0.002)


def _reap(pid: int, end: float) -> None:
    """Wait for our own (SIGKILLed) child without blocking forever on one stuck in the kernel."""
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > end:
            return
        time.sleep(0.0005)


def find_bwrap() -> str | None:
    return shutil.which("bwrap") or (os.path.exists("/usr/bin/bwrap") and "/usr/bin/bwrap") or None
