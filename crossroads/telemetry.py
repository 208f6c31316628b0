"""Optional OpenTelemetry export: pydantic-ai's instrumentation on every agent, plus one span per ask.

Off unless `otel_endpoint` is configured (or a tracer provider is passed to the `Orchestrator`). Spans
follow the OpenTelemetry GenAI conventions that pydantic-ai emits (`invoke_agent`, `chat`,
`execute_tool`), nested under a `crossroads.ask` span that carries the trace id and the route.
Exporting needs the `otel` extra (`pip install 'crossroads[otel]'`).
"""

from __future__ import annotations

from typing import Any

from crossroads.errors import ConfigError


def otlp_tracer_provider(endpoint: str) -> Any:
    """A tracer provider exporting spans over OTLP/HTTP to `endpoint` (a collector's base URL)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            "otel_endpoint is set but OpenTelemetry export is not installed: pip install 'crossroads[otel]'"
        ) from None
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": "crossroads"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return provider


class Telemetry:
    """The tracer provider of one orchestrator and what it hands to agents."""

    def __init__(self, tracer_provider: Any, *, owned: bool, include_content: bool = True) -> None:
        from pydantic_ai.models.instrumented import InstrumentationSettings

        self.provider = tracer_provider
        self.owned = owned
        self.settings = InstrumentationSettings(tracer_provider=tracer_provider, include_content=include_content)
        self.tracer = tracer_provider.get_tracer("crossroads")

    def capabilities(self) -> list[Any]:
        """A fresh instrumentation capability for one agent (it keeps per-agent state)."""
        from pydantic_ai.capabilities import Instrumentation

        return [Instrumentation(settings=self.settings)]

    def shutdown(self) -> None:
        """Flush pending spans; shut the provider down only if this orchestrator created it."""
        flush = getattr(self.provider, "force_flush", None)
        if flush is not None:
            flush()
        if self.owned:
            self.provider.shutdown()


def build_telemetry(
    endpoint: str | None, tracer_provider: Any = None, *, include_content: bool = True
) -> Telemetry | None:
    if tracer_provider is not None:
        return Telemetry(tracer_provider, owned=False, include_content=include_content)
    if endpoint:
        return Telemetry(otlp_tracer_provider(endpoint), owned=True, include_content=include_content)
    return None
