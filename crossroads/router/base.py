"""The router interface the orchestrator depends on."""

from __future__ import annotations

from typing import Protocol

from crossroads.result import RouteDecision


class Router(Protocol):
    """Anything that turns a question into a `RouteDecision`."""

    async def route(self, question: str) -> RouteDecision: ...
