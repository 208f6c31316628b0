"""`crossroads serve` (HTTP service: native + OpenAI-compatible API, MCP at /mcp) and `crossroads mcp` (stdio)."""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Annotated, Any

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, err, guarded
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags, settings_from_flags


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("mcp")(mcp)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@guarded
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8080).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default 1).")] = None,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec for every role.")] = None,
    trace_db: Annotated[str | None, typer.Option("--trace-db", help="Trace store file, or 'off'.")] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Do not serve the web page at /ui/.")] = False,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Serve the HTTP API (native + OpenAI-compatible) with MCP at /mcp and the web page at /ui/ (`serve` extra)."""
    from crossroads.errors import ConfigError

    try:
        import uvicorn
    except ImportError:
        raise ConfigError("the HTTP service needs the serve extra: pip install 'crossroads[serve]'") from None
    from crossroads.server.app import SERVE_OVERRIDES_ENV, accepted_keys, create_app

    server_flags = {"ui": False} if no_ui else None
    flags = card_flags(strict, no_builtin)
    settings = settings_from_flags(config, cards, graph, model=model, trace_db=trace_db, server=server_flags, **flags)
    _preflight(settings)
    bind = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    n = workers or settings.server.workers
    if not accepted_keys(settings) and not is_loopback(bind):
        raise ConfigError(
            f"refusing to bind to {bind} without API keys: set CROSSROADS_API_KEYS (or server.api_keys)"
            " or bind to 127.0.0.1"
        )
    page = ", web page /ui/" if settings.server.ui else ""
    err.print(
        f"crossroads serving on http://{bind}:{bind_port} (docs /docs, MCP /mcp{page}, {n} worker(s))", highlight=False
    )
    common: dict[str, Any] = {"host": bind, "port": bind_port, "log_level": "warning", "access_log": False}
    if n == 1:
        uvicorn.run(create_app(settings, host=bind), **common)
        return
    overrides = {
        "config_file": str(config) if config else None,
        "bind_host": bind,
        "model": model,
        "trace_db": trace_db,
        "log_format": settings.log_format,
        "log_level": settings.log_level,
        "graph": str(settings.graph) if settings.graph else None,
        "cards": [str(c) for c in settings.cards] if cards else None,
        "server": server_flags,
        **{k: v for k, v in flags.items() if v is not None},
    }
    os.environ[SERVE_OVERRIDES_ENV] = json.dumps({k: v for k, v in overrides.items() if v is not None})
    uvicorn.run("crossroads.server.app:app_from_env", factory=True, workers=n, **common)


def _preflight(settings: Any) -> None:
    """Cards, graph and model specs checked before uvicorn starts: a bad config is one line and exit 2.

    Inside the app's lifespan the same error would be a uvicorn traceback and exit 3. Nothing is
    logged here (the app's own orchestrator reports card warnings once, at start-up).
    """
    from crossroads.orchestrator import Orchestrator

    Orchestrator(settings).check_config(warn=False)


@guarded
def mcp(
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec for every role.")] = None,
    trace_db: Annotated[str | None, typer.Option("--trace-db", help="Trace store file, or 'off'.")] = None,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Run the MCP server over stdio (tools: ask, route, list_agents). Logs go to stderr only."""
    import anyio

    from crossroads.orchestrator import Orchestrator
    from crossroads.server.mcp_tools import build_mcp

    settings = settings_from_flags(
        config, cards, graph, model=model, trace_db=trace_db, **card_flags(strict, no_builtin)
    )

    async def run() -> None:
        async with Orchestrator(settings, trace_store=True) as orchestrator:
            orchestrator.prepare()  # a broken config fails before the host connects
            await build_mcp(lambda: orchestrator).run_stdio_async()

    anyio.run(run)
