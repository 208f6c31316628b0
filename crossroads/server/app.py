"""The FastAPI application: native and OpenAI-compatible routes, MCP at `/mcp`, guard, error handlers.

`create_app(settings)` owns one `Orchestrator` for the app's lifetime (created in the lifespan, closed
with it, trace store on unless `trace_db = "off"`); tests may pass their own orchestrator instead.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from crossroads.config import Settings, load_settings
from crossroads.orchestrator import Orchestrator
from crossroads.server import native, openai_api, ui
from crossroads.server.errors import install_error_handlers
from crossroads.server.guard import RateLimiter, RequestGuard
from crossroads.server.mcp_tools import build_mcp

API_KEYS_ENV = "CROSSROADS_API_KEYS"
SERVE_OVERRIDES_ENV = "CROSSROADS_SERVE_OVERRIDES"
"""How `crossroads serve --workers N` hands its flags to the worker processes (JSON of settings overrides)."""


def accepted_keys(settings: Settings) -> list[str]:
    """Client keys from settings plus `CROSSROADS_API_KEYS` (comma-separated)."""
    keys = [k.get_secret_value() for k in settings.server.api_keys]
    keys += [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
    return keys


def create_app(
    settings: Settings | None = None, *, orchestrator: Orchestrator | None = None, host: str | None = None
) -> FastAPI:
    """The service. With `orchestrator` given, the app uses it and leaves closing it to the caller."""
    settings = settings or (orchestrator.settings if orchestrator else load_settings())
    server_settings = settings.server
    holder: dict[str, Orchestrator] = {}

    def current() -> Orchestrator:
        return holder["orchestrator"]

    mcp = build_mcp(current)
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
        host=host or server_settings.host,
        max_request_body_size=server_settings.max_body_bytes,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = orchestrator is None
        orch = orchestrator or Orchestrator(settings, trace_store=True).prepare()
        holder["orchestrator"] = orch
        app.state.orchestrator = orch
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            app.state.orchestrator = None
            if own:
                await orch.aclose()
            elif orch.trace_store is not None:
                await orch.trace_store.aflush()

    app = FastAPI(
        title="crossroads",
        version="0.1.0",
        lifespan=lifespan,
        description="Route technical questions to specialist agents. Native API under `/v1`, "
        "OpenAI-compatible `/v1/chat/completions` and `/v1/models`, MCP at `/mcp`.",
    )
    app.state.orchestrator = None
    install_error_handlers(app)
    app.include_router(native.health)
    app.include_router(native.router)
    app.include_router(openai_api.router)
    app.mount("/mcp", mcp_app)
    if server_settings.ui:  # the web page: static files, public (the data behind it needs the key)
        app.include_router(ui.build_router())
    limiter = RateLimiter(server_settings.rate_limit_per_minute, server_settings.max_concurrent_per_key)
    app.add_middleware(
        RequestGuard,
        api_keys=accepted_keys(settings),
        max_body_bytes=server_settings.max_body_bytes,
        limiter=limiter,
        public_paths=ui.PUBLIC_PATHS if server_settings.ui else (),
        public_prefixes=(ui.PUBLIC_PREFIX,) if server_settings.ui else (),
    )
    if server_settings.cors_origins:  # outermost, so preflight requests need no key
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=server_settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: settings rebuilt from the serve command's flags."""
    from crossroads.logs import configure_logging

    overrides: dict[str, Any] = json.loads(os.environ.get(SERVE_OVERRIDES_ENV, "{}"))
    config = overrides.pop("config_file", None)
    host = overrides.pop("bind_host", None)
    settings = load_settings(config, **overrides)
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings, host=host)
