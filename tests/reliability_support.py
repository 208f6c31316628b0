"""Shared set-up of the reliability tests: `crossroads serve` as a real subprocess on a free loopback port.

The server's stderr is captured whole, so a test can assert what did (and did not) reach the logs.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx2

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = ROOT / "crossroads/config/defaults.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running server: its base URL, and its stderr once it has stopped."""

    url: str
    proc: subprocess.Popen[bytes]
    stderr: str = field(default="")


def cli_command(*args: str, prelude: str = "") -> list[str]:
    """`crossroads ARGS` in a fresh interpreter, after `prelude` (Python code, e.g. a monkeypatch)."""
    code = f"{prelude}\nimport sys\nfrom crossroads.cli import main\nsys.argv = ['crossroads', *sys.argv[1:]]\nmain()"
    return [sys.executable, "-c", code, *args]


@contextmanager
def serve_process(*args: str, prelude: str = "", env: dict[str, str] | None = None, port: int = 0) -> Iterator[Served]:
    """`crossroads serve` in a subprocess; yields once it announces "serving on" (it then accepts
    connections), with the URL it announced; stops it with SIGTERM after."""
    full_env = {**os.environ, "CROSSROADS_CONFIG": str(DEFAULTS), **(env or {})}
    proc = subprocess.Popen(
        cli_command("serve", "--port", str(port), *args, prelude=prelude),
        env=full_env,
        cwd=str(ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    served = Served("", proc)
    chunks: list[bytes] = []
    assert proc.stderr is not None
    stderr = cast(io.BufferedReader, proc.stderr)
    drain = threading.Thread(target=lambda: chunks.extend(iter(lambda: stderr.read1(65536), b"")), daemon=True)
    drain.start()  # a full pipe would block the server's logging, and with it the server
    try:
        deadline = time.monotonic() + 90
        while not served.url:
            found = re.search(rb"serving on (http://\S+:\d+)", b"".join(chunks))
            if found:
                served.url = found.group(1).decode()
            elif proc.poll() is not None:
                drain.join(5)
                raise RuntimeError(f"the server exited: {b''.join(chunks).decode('utf-8', 'replace')}")
            elif time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            else:
                time.sleep(0.05)
        assert httpx2.get(f"{served.url}/healthz", timeout=5).status_code == 200  # announced means serving
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        drain.join(10)
        stderr.close()
        served.stderr = b"".join(chunks).decode("utf-8", "replace")
