"""Shared set-up of the sandbox tests: a started Toolbox on the real bwrap tier, or a clear skip."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator

from real_parts import missing

from crossroads.config import SandboxSettings
from crossroads.tools import PythonResult, Toolbox

SECRET_NAME = "SANDBOX_TEST_SECRET"
SECRET_VALUE = "sk-crossroads-secret-3f9a1c7e"


def require_sandbox_host() -> None:
    """Skip only when the machine genuinely cannot host the sandbox (no root or no bubblewrap)."""
    if os.geteuid() != 0:
        missing("the sandbox launcher needs root to drop to per-slot uids")
    if shutil.which("bwrap") is None and not os.path.exists("/usr/bin/bwrap"):
        missing("bubblewrap is not installed (apt-get install -y bubblewrap)")


def started_toolbox(pool_size: int = 2) -> Iterator[Toolbox]:
    """A Toolbox on the default runtime (built if missing), with a secret in the parent environment."""
    require_sandbox_host()
    from crossroads.tools.runtime import build_runtime

    build_runtime()  # idempotent: returns at once when already built
    os.environ[SECRET_NAME] = SECRET_VALUE
    toolbox = Toolbox(SandboxSettings(timeout=5.0, memory_mb=512, pool_size=pool_size))
    asyncio.run(toolbox.start())
    assert toolbox.tier == "bwrap", toolbox.unavailable_reason
    try:
        yield toolbox
    finally:
        asyncio.run(toolbox.aclose())
        os.environ.pop(SECRET_NAME, None)


def uid_processes(uid: int) -> list[int]:
    """Live (non-zombie) host processes whose real uid is `uid`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
            found.append(int(name))
    return found


def last_line(result: PythonResult) -> str:
    return (result.stdout.strip().splitlines() or [""])[-1]
