"""The web page: ask a question and watch the handoff graph light up, read the stored traces.

The page is static: plain ES modules and one stylesheet in `crossroads/server/static/`, shipped in the
wheel, no build step and nothing from a CDN. It is served at `/ui/` (`/` redirects there) without a key,
because it holds no data: everything it shows comes from the `/v1` API, which it calls with the key the
user types in (kept in the tab's memory and sessionStorage only). Every response carries a strict
Content-Security-Policy (scripts only from this origin, no inline script or style), so an injection would
not run even if a rendering bug let one through. `server.ui = false` or `crossroads serve --no-ui` turns
the page off (404).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from crossroads.server.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent / "static"
PUBLIC_PATHS = frozenset({"/", "/ui"})
"""Paths of the page the request guard lets through without a key (with `PUBLIC_PREFIX`)."""
PUBLIC_PREFIX = "/ui/"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def static_files() -> dict[str, Path]:
    """The files the page may load, by name: only these are served (no paths, no directory listing)."""
    return {p.name: p for p in sorted(STATIC_DIR.iterdir()) if p.is_file() and p.suffix in MEDIA_TYPES}


def _serve(path: Path) -> Response:
    return Response(path.read_bytes(), media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)


def build_router() -> APIRouter:
    """Routes of the page: `/` and `/ui` redirect to `/ui/`, which serves `index.html`; assets under `/ui/`."""
    files = static_files()
    router = APIRouter(include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"])
    @router.api_route("/ui", methods=["GET", "HEAD"])
    async def to_page() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @router.api_route("/ui/", methods=["GET", "HEAD"])
    async def page() -> Response:
        return _serve(files["index.html"])

    @router.api_route("/ui/{name}", methods=["GET", "HEAD"])
    async def asset(name: str) -> Response:
        path = files.get(name)
        if path is None:
            raise ApiError(404, f"no such file of the web page: '{name}'", code="not_found")
        return _serve(path)

    return router
