"""Shared set-up of the server tests: the real app under uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from crossroads.config import Settings, load_settings
from crossroads.config.settings import PACKAGED_DEFAULTS
from crossroads.orchestrator import Orchestrator

API_KEY = "sk-crossroads-test-7d1e0b5a9c"


def server_settings(tmp_path: Path, **server: Any) -> Settings:
    """Offline settings isolated from the user's config file, with the trace store in `tmp_path`."""
    return load_settings(
        PACKAGED_DEFAULTS, trace_db=str(tmp_path / "traces.db"), server={"api_keys": [API_KEY], **server}
    )


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (port chosen by the OS); yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the test server did not shut down"


@contextmanager
def running_service(settings: Settings, toolbox: Any = None) -> Iterator[tuple[str, Orchestrator]]:
    """The whole service over an orchestrator the test can inspect (its trace store is closed after)."""
    from crossroads.server import create_app

    orchestrator = Orchestrator(settings, toolbox=toolbox, trace_store=True)
    try:
        with running(create_app(settings, orchestrator=orchestrator)) as url:
            yield url, orchestrator
    finally:  # on a thread of its own: the caller may be inside an event loop
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, orchestrator.aclose()).result()
