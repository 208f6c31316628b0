"""OpenTelemetry export: spans for the ask, each agent run, model request and tool call."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crossroads.config import load_settings
from crossroads.orchestrator import Orchestrator

pytestmark = pytest.mark.anyio


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None, span.name
    return span.context.trace_id


async def test_spans_nest_under_one_ask_span(fake_toolbox) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with Orchestrator(toolbox=fake_toolbox, tracer_provider=provider) as crossroads:
        result = await crossroads.ask("Is 17*23 = 391?", agent="data-ai")
    spans = exporter.get_finished_spans()
    root = next(s for s in spans if s.name == "crossroads.ask")
    assert root.attributes is not None
    assert root.attributes["crossroads.trace_id"] == result.trace_id
    route = root.attributes["crossroads.route"]
    assert isinstance(route, Sequence) and list(route) == ["data-ai"]
    names = [s.name for s in spans]
    assert any(n.startswith("invoke_agent") and "data-ai" in n for n in names), names
    tool = next(s for s in spans if s.name.startswith("execute_tool"))
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.name"] == "check_math"
    assert {_trace_id(s) for s in spans} == {_trace_id(root)}  # one trace for the whole ask


async def test_no_spans_without_configuration(fake_toolbox) -> None:
    async with Orchestrator(toolbox=fake_toolbox) as crossroads:
        assert crossroads.telemetry is None
        await crossroads.ask("What is a Python generator?", agent="language")


async def test_otlp_endpoint_receives_spans(fake_toolbox) -> None:
    received: list[tuple[str, str]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = load_settings(otel_endpoint=f"http://127.0.0.1:{server.server_port}")
        async with Orchestrator(settings, toolbox=fake_toolbox) as crossroads:
            await crossroads.ask("What is a Python generator?", agent="language")
    finally:
        server.shutdown()
        server.server_close()
    assert received and received[0] == ("/v1/traces", "application/x-protobuf")
