"""crossroads' own endpoints: ask, route, agents, graph, stored traces, health and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from crossroads.conversation import Conversation
from crossroads.events import StreamEvent
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, RouteDecision
from crossroads.server.errors import ApiError
from crossroads.server.models import AgentInfo, AskRequest, ReadyStatus, RouteRequest, summary_headers
from crossroads.storage import TraceStore, TraceSummary

router = APIRouter(prefix="/v1", tags=["crossroads"])
health = APIRouter(tags=["health"])
MERMAID_TYPES = ("text/vnd.mermaid", "text/x-mermaid", "text/plain")


def _orchestrator(request: Request) -> Orchestrator:
    return request.app.state.orchestrator


def agent_infos(orch: Orchestrator) -> list[AgentInfo]:
    return [
        AgentInfo(
            name=c.name,
            title=c.display_name,
            description=c.description,
            tools=list(c.tools),
            handoffs=sorted(orch.graph.neighbours(c.name)),
        )
        for c in orch.cards.values()
    ]


@router.post("/ask", response_model=AskResult)
async def ask(req: AskRequest, request: Request) -> JSONResponse:
    """Answer a question; the full `AskResult`: answer, route, handoff path, tool calls, usage, trace id."""
    result = await _orchestrator(request).ask(req.question, agent=req.agent, conversation=req.conversation_id)
    return JSONResponse(result.model_dump(mode="json"), headers=summary_headers(result.summary()))


@router.post("/ask/stream", response_model=None, response_class=StreamingResponse)
async def ask_stream(req: AskRequest, request: Request) -> StreamingResponse:
    """Answer as server-sent events (`event: <type>`, `data: <event JSON>`).

    The same events as `Orchestrator.stream()`: route, tool calls, handoffs, model requests, text deltas,
    then done or error.
    """
    iterator = _orchestrator(request).stream(req.question, agent=req.agent, conversation=req.conversation_id)
    first = await anext(iterator)  # unusable input raises here, before the response starts

    async def sse() -> AsyncIterator[str]:
        try:
            event: StreamEvent | None = first
            while event is not None:
                yield f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"
                event = await anext(iterator, None)
        finally:
            await iterator.aclose()

    return StreamingResponse(
        sse(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Crossroads-Trace-Id": first.trace_id},
    )


@router.get("/conversations/{conversation_id}", response_model=Conversation)
async def conversation(conversation_id: str, request: Request) -> Conversation:
    """A stored conversation: every turn with its trace id and the specialists that answered it."""
    found = await _orchestrator(request).get_conversation(conversation_id)
    if found is None:
        raise ApiError(
            404, f"no conversation '{conversation_id}'", code="conversation_not_found", param="conversation_id"
        )
    return found


@router.post("/route", response_model=RouteDecision)
async def route(req: RouteRequest, request: Request) -> RouteDecision:
    """Which specialists would answer, without asking them."""
    return await _orchestrator(request).route(req.question)


@router.get("/agents", response_model=list[AgentInfo])
async def agents(request: Request) -> list[AgentInfo]:
    return agent_infos(_orchestrator(request))


@router.get("/graph", response_model=None)
async def graph(
    request: Request, format: Literal["json", "mermaid"] | None = None, accept: Annotated[str | None, Header()] = None
) -> JSONResponse | PlainTextResponse:
    """The handoff graph as JSON (`{nodes, edges}`), or Mermaid with `?format=mermaid` or a Mermaid Accept."""
    g = _orchestrator(request).graph
    wants_mermaid = format == "mermaid" or (format is None and any(t in (accept or "") for t in MERMAID_TYPES))
    if wants_mermaid:
        return PlainTextResponse(g.to_mermaid(), media_type="text/vnd.mermaid")
    return JSONResponse({"nodes": ["router", *g.specialists], "edges": g.edges()})


def _store(request: Request) -> TraceStore:
    store = _orchestrator(request).trace_store
    if store is None:
        raise ApiError(404, 'the trace store is off on this server (trace_db = "off")', code="trace_store_off")
    return store


@router.get("/traces", response_model=list[TraceSummary])
async def traces(
    request: Request,
    last: Annotated[int, Query(ge=1, le=1000)] = 20,
    status: Annotated[Literal["ok", "out_of_scope", "error"] | None, Query()] = None,
    agent: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> list[TraceSummary]:
    """The most recent stored traces, newest first.

    Filters: `status`; `agent` (the route contains it); `since` (inclusive) and `until` (exclusive), ISO
    8601 times, UTC when they carry no offset.
    """
    store = _store(request)
    return await asyncio.to_thread(store.recent, last, status=status, agent=agent, since=since, until=until)


@router.get("/traces/{trace_id}", response_model=AskResult)
async def trace(trace_id: str, request: Request) -> AskResult:
    """One stored trace (id or unique prefix); traces are written shortly after the answer is sent."""
    store = _store(request)
    result = await asyncio.to_thread(store.get, trace_id)
    if result is None:
        await store.aflush()  # it may still be queued
        result = await asyncio.to_thread(store.get, trace_id)
    if result is None:
        raise ApiError(404, f"no trace '{trace_id}'", code="trace_not_found", param="trace_id")
    return result


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@health.get("/readyz", response_model=ReadyStatus)
async def readyz(request: Request) -> ReadyStatus | JSONResponse:
    """Readiness: the orchestrator is loaded (503 while starting or stopping)."""
    orch: Orchestrator | None = getattr(request.app.state, "orchestrator", None)
    if orch is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    store = orch.trace_store
    return ReadyStatus(
        agents=len(orch.cards),
        trace_store=store.location if store else None,
        sandbox=getattr(orch.toolbox, "tier", None),
        model=orch.settings.model,
    )
