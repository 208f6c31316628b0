"""OpenAI-compatible surface: `POST /v1/chat/completions` (plain and SSE streaming) and `GET /v1/models`.

Model `crossroads` routes the question; `crossroads/<agent>` asks that specialist directly. crossroads
answers one question per request: the question is the last user message (earlier turns and system
messages are not used). Route, handoff path and trace id travel in the extra top-level `crossroads`
field (the official SDK keeps unknown fields in `model_extra`) and in `X-Crossroads-*` headers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult
from crossroads.server.errors import ApiError
from crossroads.server.models import ChatRequest, ChatUsage, CrossroadsMeta, ModelCard, ModelList

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
    if model.startswith(prefix) and model[len(prefix):] in orch.cards:
        return model[len(prefix):]
    raise ApiError(404, f"the model '{model}' does not exist; available: {', '.join(_model_ids(orch))}",
                   code="model_not_found", param="model")


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
    # The ask runs before the response starts so that failures keep their status codes.
    result = await orch.ask(question, agent=agent)
    meta = CrossroadsMeta.of(result)
    completion_id = f"chatcmpl-{result.trace_id}"
    created = int(time.time())
    if not req.stream:
        body = {"id": completion_id, "object": "chat.completion", "created": created, "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": ChatUsage.of(result).model_dump(), "crossroads": meta.model_dump(mode="json")}
        return JSONResponse(body, headers=meta.headers())
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    return StreamingResponse(
        _sse(result, meta, completion_id, created, req.model, include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **meta.headers()})


async def _sse(result: AskResult, meta: CrossroadsMeta, completion_id: str, created: int, model: str,
               include_usage: bool) -> AsyncIterator[str]:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": choices, **extra}
        return f"data: {json.dumps(payload)}\n\n"

    def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": content, "finish_reason": finish, "logprobs": None}]

    yield chunk(delta({"role": "assistant", "content": ""}))
    for piece in _pieces(result.answer):
        yield chunk(delta({"content": piece}))
    yield chunk(delta({}, "stop"), crossroads=meta.model_dump(mode="json"))
    if include_usage:
        yield chunk([], usage=ChatUsage.of(result).model_dump())
    yield "data: [DONE]\n\n"


def _pieces(text: str, size: int = 48) -> list[str]:
    """Split an answer into word-aligned pieces of about `size` characters, losing no character."""
    pieces: list[str] = []
    current = ""
    for word in re.findall(r"\S*\s*", text):
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces
