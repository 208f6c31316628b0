"""`crossroads serve` (HTTP service: native + OpenAI-compatible API, MCP at /mcp) and `crossroads mcp` (stdio)."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, GraphOpt, err, guarded
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags, settings_from_flags
from crossroads.errors import RunError

if TYPE_CHECKING:
    from crossroads.config import Settings


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
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8080; 0 picks a free one).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default 1).")] = None,
    cards: CardsOpt = None,
    config: ConfigOpt = None,
    graph: GraphOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model spec for every role.")] = None,
    trace_db: Annotated[str | None, typer.Option("--trace-db", help="Trace store file or URL, or 'off'.")] = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Do not serve the web page at /ui/.")] = False,
    strict: StrictOpt = False,
    no_builtin: NoBuiltinOpt = False,
) -> None:
    """Serve the HTTP API (native + OpenAI-compatible), MCP at /mcp and the web page at /ui/ (`serve` extra).

    The socket is bound before anything is announced, so a taken port is a one-line error (exit 2),
    and "serving on" is printed only once the server accepts connections.
    """
    from crossroads.errors import ConfigError

    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}")
    if workers is not None and not 1 <= workers <= 64:
        raise ConfigError(f"--workers must be between 1 and 64, not {workers}")
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("the HTTP service needs the serve extra: pip install 'crossroads[serve]'") from None
    from crossroads.server.app import accepted_keys

    server_flags = {"ui": False} if no_ui else None
    flags = card_flags(strict, no_builtin)
    settings = settings_from_flags(config, cards, graph, model=model, trace_db=trace_db, server=server_flags, **flags)
    _preflight(settings)
    bind = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    n = settings.server.workers if workers is None else workers
    if not accepted_keys(settings) and not is_loopback(bind):
        raise ConfigError(
            f"refusing to bind to {bind} without API keys: set CROSSROADS_API_KEYS (or server.api_keys)"
            " or bind to 127.0.0.1"
        )
    from crossroads.server.timeouts import uvicorn_options
    from crossroads.storage import check_store

    check_store(settings)  # a corrupt or unreachable trace store: one line and exit 2, before binding
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "log_config": None,  # uvicorn's loggers go through crossroads' chain (no locals, redacted)
        **uvicorn_options(settings.server),
    }
    if n == 1:
        _serve_one(uvicorn, settings, bind, bind_port, options)
    else:
        _serve_workers(uvicorn, settings, bind, bind_port, n, options, config=config, cards=cards)


def _serve_one(uvicorn: Any, settings: Settings, bind: str, port: int, options: dict[str, Any]) -> None:
    """One process: the orchestrator is built first (config errors are exit 2), then the socket bound."""
    import asyncio

    from crossroads.orchestrator import Orchestrator
    from crossroads.server.app import create_app

    orchestrator = Orchestrator(settings, trace_store=True)
    closed: list[bool] = []

    async def close() -> None:  # on the server's own loop, which its connection pools belong to
        if not closed:
            closed.append(True)
            await orchestrator.aclose()

    try:
        sock = bind_socket(bind, port)
        config = uvicorn.Config(create_app(settings, orchestrator=orchestrator, host=bind), **options)
        server = _announcing_server(uvicorn, ui=settings.server.ui)(config)
        server.on_shutdown = close
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn exits when the app's start-up fails; it logged why
            raise RunError("the server failed to start (see the log above)") from None
        finally:
            sock.close()
    finally:
        if not closed:  # the server never started (or failed before its shutdown)
            asyncio.run(close())


def _serve_workers(
    uvicorn: Any,
    settings: Settings,
    bind: str,
    port: int,
    n: int,
    options: dict[str, Any],
    *,
    config: Path | None,
    cards: list[Path] | None,
) -> None:
    """N worker processes sharing one socket bound here; each builds its own orchestrator."""
    from uvicorn.supervisors import Multiprocess

    from crossroads.orchestrator import Orchestrator
    from crossroads.server.app import SERVE_OVERRIDES_ENV

    Orchestrator(settings).prepare()  # config errors here, once, not in N workers
    overrides = {
        "config_file": str(config) if config else None,
        "bind_host": bind,
        "model": settings.model,
        "trace_db": str(settings.trace_db) if settings.trace_db else None,
        "log_format": settings.log_format,
        "log_level": settings.log_level,
        "graph": str(settings.graph) if settings.graph else None,
        "cards": [str(c) for c in settings.cards] if cards else None,
        "server": None if settings.server.ui else {"ui": False},
        "builtin_cards": None if settings.builtin_cards else False,
        "strict_cards": True if settings.strict_cards else None,
    }
    os.environ[SERVE_OVERRIDES_ENV] = json.dumps({k: v for k, v in overrides.items() if v is not None})
    sock = bind_socket(bind, port)
    server_config = uvicorn.Config("crossroads.server.app:app_from_env", factory=True, workers=n, **options)
    announce(sock, n, ui=settings.server.ui)
    try:
        Multiprocess(server_config, sockets=[sock]).run()
    finally:
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; ConfigError (exit 2) when the address is taken or invalid."""
    from crossroads.errors import ConfigError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def announce(sock: socket.socket, workers: int, *, ui: bool = False) -> None:
    """The one "serving on" line, with the port actually bound (useful with --port 0)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    page = ", web page /ui/" if ui else ""
    err.print(
        f"crossroads serving on http://{shown}:{port} (docs /docs, MCP /mcp{page}, {workers} worker(s))",
        highlight=False,
        markup=False,
    )


def _announcing_server(uvicorn: Any, *, ui: bool = False) -> type[Any]:
    class AnnouncingServer(uvicorn.Server):
        """The uvicorn server, announcing itself once it accepts connections.

        `on_shutdown` runs on the server's loop once it stopped serving (the orchestrator is closed there).
        """

        on_shutdown: Any = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and sockets:
                announce(sockets[0], 1, ui=ui)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            if self.on_shutdown is not None:
                await self.on_shutdown()

    return AnnouncingServer


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
    from crossroads.server.mcp_tools import build_mcp, run_stdio

    settings = settings_from_flags(
        config, cards, graph, model=model, trace_db=trace_db, **card_flags(strict, no_builtin)
    )

    async def run() -> None:
        async with Orchestrator(settings, trace_store=True) as orchestrator:
            orchestrator.prepare()  # a broken config fails before the host connects
            await run_stdio(build_mcp(lambda: orchestrator))

    anyio.run(run)
