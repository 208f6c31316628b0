"""Route httpx2 traffic through a respx router, so provider tests and recordings never open a socket.

The openai (>= 3) and anthropic (>= 2) SDKs send requests with `httpx2`; respx only patches legacy
`httpx`. This transport keeps respx's route API (`router.post(url).mock(side_effect=[...])`,
`route.calls`) and plugs it into an `httpx2.AsyncClient`:

    router = respx.MockRouter(assert_all_mocked=True)
    Orchestrator(settings, http_transport=RespxHttpx2Transport(router))
"""

from __future__ import annotations

import httpx
import httpx2
import respx


class RespxHttpx2Transport(httpx2.AsyncBaseTransport):
    """Serves httpx2 requests from a respx router (respx patches only legacy httpx)."""

    def __init__(self, router: respx.Router) -> None:
        self.router = router

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        legacy_request = httpx.Request(
            request.method, str(request.url), headers=request.headers.multi_items(), content=body
        )
        try:
            legacy_response = await self.router.async_handler(legacy_request)
        except httpx.HTTPError as exc:
            # side_effect=httpx.ReadTimeout etc. becomes the same-named httpx2 error, which the SDKs understand.
            exc_type = getattr(httpx2, type(exc).__name__, httpx2.TransportError)
            raise exc_type(str(exc), request=request) from exc
        content = await legacy_response.aread()
        return httpx2.Response(
            legacy_response.status_code, headers=legacy_response.headers.multi_items(), content=content, request=request
        )
