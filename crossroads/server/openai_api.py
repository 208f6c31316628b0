"""OpenAI-compatible surface: `POST /v1/chat/completions` (plain and SSE streaming) and `GET /v1/models`.

Model `crossroads` routes the question; `crossroads/<agent>` asks that specialist directly. crossroads
answers one question per request: the question is the last user message (earlier turns and system
messages are not used). Route, handoff path and trace id travel in the extra top-level `crossroads`
field (the official SDK keeps unknown fields in `model_extra`) and in `X-Crossroads-*` headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from crossroads.events import Done, ErrorEvent, StreamEvent, TextDelta
from crossroads.orchestrator import Orchestrator
from crossroads.server.errors import ApiError, error_body, from_crossroads_error
from crossroads.server.models import ChatRequest, ChatUsage, ModelCard, ModelList, summary_headers

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODEL = "crossroads"
_CREATED = 1_700_000_000


def _orchestrator(request: Request) -> Orchestrator:
    return request.app.state.orchestrator  # type: ignore[no-any-return]


def _model_ids(orch: Orchestrator) -> list[str]:
    return [MODEL, *(f"{MODEL}/{name}" for name in sorted(orch.cards))]


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    """The orchestrator as `crossroads`, and each specialist as `crossroads/<agent>` (bypasses routing)."""
    return ModelList(data=[ModelCard(id=m, created=_CREATED) for m in _model_ids(_orchestrator(request))])


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, request: Request) -> ModelCard:
    if model_id not in _model_ids(_orchestrator(request)):
        raise ApiError(404, f"the model '{model_id}' does not exist", code="model_not_found", param="model")
    return ModelCard(id=model_id, created=_CREATED)


def _agent_for(model: str, orch: Orchestrator) -> str | None:
    if model == MODEL:
        return None
    prefix = f"{MODEL}/"
    if model.startswith(prefix) and model[len(prefix) :] in orch.cards:
        return model[len(prefix) :]
    raise ApiError(
        404,
        f"the model '{model}' does not exist; available: {', '.join(_model_ids(orch))}",
        code="model_not_found",
        param="model",
    )


def _question(req: ChatRequest) -> str:
    for message in reversed(req.messages):
        if message.role == "user":
            return message.text()
    raise ApiError(400, "messages: no message with role 'user' to answer", code="invalid_value", param="messages")


@router.post("/chat/completions", response_model=None)
async def chat_completions(req: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    """Answer the last user message; `stream: true` answers as server-sent chunks ending in `[DONE]`."""
    orch = _orchestrator(request)
    agent = _agent_for(req.model, orch)
    question = orch.check_question(_question(req))
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return await stream_completion(orch.stream(question, agent=agent), req.model, include_usage)
    result = await orch.ask(question, agent=agent)
    meta = result.summary()
    body = {
        "id": f"chatcmpl-{result.trace_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": ChatUsage.of(result).model_dump(),
        "crossroads": meta.model_dump(mode="json"),
    }
    return JSONResponse(body, headers=summary_headers(meta))


async def stream_completion(events: AsyncIterator[StreamEvent], model: str, include_usage: bool) -> StreamingResponse:
    """SSE chunks in OpenAI's shape from `Orchestrator.stream()` events, as they happen.

    The first event (the route, which carries the trace id) is awaited before the response starts, so
    a failure to route still gets its own status code and the trace id can go in the headers. Progress
    events (route, tool calls, handoffs, model requests) travel as chunks with an empty delta and the
    event under `crossroads.event`; OpenAI clients ignore them. A failure after the start arrives as
    `data: {"error": ...}`, which the official SDK raises as `APIError`.
    """
    iterator = aiter(events)
    first = await anext(iterator)
    if isinstance(first, ErrorEvent):
        await _close(iterator)
        raise from_crossroads_error(first.to_error())
    completion_id = f"chatcmpl-{first.trace_id}"
    created = int(time.time())

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": content, "finish_reason": finish, "logprobs": None}]

    async def sse() -> AsyncIterator[str]:
        try:
            yield chunk(delta({"role": "assistant", "content": ""}))
            event: StreamEvent | None = first
            while event is not None:
                if isinstance(event, TextDelta):
                    yield chunk(delta({"content": event.delta}))
                elif isinstance(event, Done):
                    yield chunk(delta({}, "stop"), crossroads=event.result.summary().model_dump(mode="json"))
                    if include_usage:
                        yield chunk([], usage=ChatUsage.of(event.result).model_dump())
                elif isinstance(event, ErrorEvent):
                    api_error = from_crossroads_error(event.to_error())
                    yield (
                        "data: "
                        + json.dumps(
                            {
                                **error_body(
                                    api_error.message, type=api_error.type, code=api_error.code, param=api_error.param
                                ),
                                **api_error.extra,
                            }
                        )
                        + "\n\n"
                    )
                else:
                    yield chunk(delta({}), crossroads={"event": event.model_dump(mode="json")})
                event = await anext(iterator, None)
            yield "data: [DONE]\n\n"
        finally:
            await _close(iterator)

    return StreamingResponse(
        sse(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Crossroads-Trace-Id": first.trace_id},
    )


async def _close(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        await closer()
