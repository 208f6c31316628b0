"""Issue 17.4 (server half) and 17.5 (serve): read deadlines and bounds, through a real `crossroads serve`.

Slow clients are raw sockets: one that connects and sends nothing, one that trickles its headers, one
that sends headers and then too little body, and a hundred of them at once. Each must get a 408 and a
closed connection within the configured deadline, while well-behaved requests keep working.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from reliability_support import Served, serve_process

DEADLINES = {"CROSSROADS_SERVER__HEADER_TIMEOUT": "1", "CROSSROADS_SERVER__BODY_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve_process("--trace-db", "off", env={**DEADLINES, "CROSSROADS_SERVER__MAX_HEADER_BYTES": "4096"}) as s:
        yield s


def _connect(served: Served) -> socket.socket:
    host, port = served.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket, limit: float = 6.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    start = time.monotonic()
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def _json_408(data: bytes) -> dict[str, object]:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), data
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout" and error["type"] == "invalid_request_error"
    return error


def test_silent_connection_is_closed_after_the_header_deadline(served: Served) -> None:
    with _connect(served) as sock:
        data, took = _read_all(sock)
    assert "headers were not received within 1 s" in str(_json_408(data)["message"])
    assert 0.8 < took < 4


def test_trickled_headers_are_cut_off(served: Served) -> None:
    with _connect(served) as sock:
        start = time.monotonic()
        sock.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
        sock.sendall(b"X-Slow: 1\r\n")  # still incomplete: the deadline runs from the first byte, not the last
        data, _ = _read_all(sock)
    _json_408(data)
    assert time.monotonic() - start < 4


def test_slow_body_is_a_408_in_openai_shape(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b'POST /v1/route HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 60\r\n\r\n{"q'
        )
        data, took = _read_all(sock)
    assert "body was not received within 1 s" in str(_json_408(data)["message"])
    assert took < 4


def test_kept_alive_connection_gets_the_header_deadline_again(served: Served) -> None:
    body = b'{"question": "How do I shard Postgres?"}'
    request = (
        b"POST /v1/route HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with _connect(served) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(b"POST /v1/route HTTP/1.1\r\n")  # then a second request that never completes
        data, _ = _read_all(sock)
    data = first + data  # the rest of the first response, then the 408
    assert data.count(b"HTTP/1.1 ") == 2
    _json_408(data[data.index(b"HTTP/1.1 408") :])


def test_a_hundred_slow_connections_are_all_closed(served: Served) -> None:
    socks = [_connect(served) for _ in range(100)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(b"GET /healthz HTTP/1.1\r\n" if i % 2 else b"")
        # meanwhile a well-behaved client is served
        assert httpx2.get(f"{served.url}/healthz", timeout=10).status_code == 200
        deadline = time.monotonic() + 8
        for sock in socks:
            data, _ = _read_all(sock, max(0.1, deadline - time.monotonic()))
            assert data.startswith(b"HTTP/1.1 408")
    finally:
        for sock in socks:
            sock.close()


def test_oversized_head_is_a_400(served: Served) -> None:
    """A head still incomplete past max_header_bytes (4096 here) is refused without waiting for the rest."""
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 6000)
        data, took = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 400") and took < 1.0, data


def test_normal_requests_are_unaffected(served: Served) -> None:
    with httpx2.Client(base_url=served.url, timeout=30) as client:
        for _ in range(3):  # the same kept-alive connection
            assert client.post("/v1/route", json={"question": "How do I shard Postgres?"}).status_code == 200
        ready = client.get("/readyz").json()
    assert ready["status"] == "ready"


# -- 17.5: crossroads serve ---------------------------------------------------------------------------


def test_readyz_reports_the_probed_sandbox_tier_before_any_snippet(served: Served) -> None:
    from crossroads.tools import Toolbox

    ready = httpx2.get(f"{served.url}/readyz", timeout=10).json()
    import asyncio

    box = Toolbox()
    asyncio.run(box.start())
    try:
        assert ready["sandbox"] == box.tier  # "bwrap" where it works, else "unavailable": never a guess
    finally:
        asyncio.run(box.aclose())


def test_port_zero_announces_the_port_actually_bound() -> None:
    with serve_process("--trace-db", "off", port=0) as served:
        assert not served.url.endswith(":0")
    line = next(line for line in served.stderr.splitlines() if "serving on" in line)
    assert ":0 " not in line and "http://127.0.0.1:" in line


def test_sigterm_closes_the_orchestrator_on_the_servers_loop(tmp_path: Path) -> None:
    """serve builds the orchestrator itself (config errors are exit 2); stopping the server still flushes
    and closes it, so an answered ask's trace is in the store after SIGTERM."""
    from crossroads.store import TraceStore

    db = tmp_path / "traces.db"
    with serve_process("--trace-db", str(db)) as served:
        answer = httpx2.post(f"{served.url}/v1/ask", json={"question": "How do I shard Postgres?"}, timeout=60)
        assert answer.status_code == 200
    assert served.proc.returncode in (0, -15), served.stderr  # uvicorn re-raises SIGTERM after its shutdown
    store = TraceStore(db)
    try:
        assert store.get(answer.json()["trace_id"]) is not None
    finally:
        store.close()
