"""OpenAI-compatible surface: `POST /v1/chat/completions` (plain and SSE streaming) and `GET /v1/models`.

Model `crossroads` routes the question; `crossroads/<agent>` asks that specialist directly. The whole
`messages` list is used: the last user message is the question, the user and assistant messages before
it are the conversation it follows up on (routed with context, sent to the specialists within the
history budget), and system or developer messages become instructions for every specialist and the
synthesiser. Nothing is stored between requests: the client sends the conversation each time, as with
OpenAI. Request fields crossroads cannot honour (`tools`, `n` > 1, JSON `response_format`, ...) are a
400 naming the field, never silently ignored; docs/server.md lists every field. Route, handoff path and
trace id travel in the extra top-level `crossroads` field (the official SDK keeps unknown fields in
`model_extra`) and in `X-Crossroads-*` headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from crossroads.conversation import Conversation, Turn
from crossroads.events import Done, ErrorEvent, StreamEvent, TextDelta
from crossroads.orchestrator import Orchestrator
from crossroads.server.errors import ApiError, error_body, from_crossroads_error
from crossroads.server.models import ChatRequest, ChatUsage, ModelCard, ModelList, summary_headers

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODEL = "crossroads"
_CREATED = 1_700_000_000


def _orchestrator(request: Request) -> Orchestrator:
    return request.app.state.orchestrator


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


def _refuse(param: str, why: str) -> ApiError:
    return ApiError(400, f"'{param}' is not supported by crossroads: {why}", code="unsupported_parameter", param=param)


def unsupported(req: ChatRequest) -> ApiError | None:
    """The first request field crossroads cannot honour, as OpenAI's 400; None when there is none."""
    no_tools = "crossroads' specialists answer in text and run their own tools; it does not call yours"
    if req.tools:
        return _refuse("tools", no_tools)
    if req.functions:
        return _refuse("functions", no_tools)
    if req.tool_choice not in (None, "none", "auto"):
        return _refuse("tool_choice", no_tools)
    if req.function_call not in (None, "none", "auto"):
        return _refuse("function_call", no_tools)
    if req.n is not None and req.n > 1:
        return _refuse("n", "one answer per request (each costs every specialist's requests); send n = 1")
    kind = (req.response_format or {}).get("type", "text")
    if kind != "text":
        return _refuse("response_format", f"'{kind}' output is not implemented; only {{'type': 'text'}}")
    if req.logprobs or req.top_logprobs is not None:
        return _refuse("logprobs" if req.logprobs else "top_logprobs", "an answer merges several models' outputs")
    if req.audio is not None or (req.modalities and set(req.modalities) != {"text"}):
        return _refuse("audio" if req.audio is not None else "modalities", "crossroads answers in text only")
    if req.prediction is not None:
        return _refuse("prediction", "predicted outputs are not implemented")
    return None


def conversation_of(req: ChatRequest) -> tuple[str, Conversation, str | None]:
    """(question, the conversation before it, instructions) from the `messages` list.

    System and developer messages are instructions (joined in order); user and assistant messages
    are turns; the last message must be the user's question. Tool messages and assistant tool calls
    belong to function calling, which crossroads does not do, so they are refused like `tools`.
    """
    instructions: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(req.messages):
        if message.other_parts():
            kinds = ", ".join(sorted(set(message.other_parts())))
            raise _refuse(f"messages[{i}].content", f"content parts of type {kinds}; send text parts only")
        if message.role in ("tool", "function") or message.tool_calls or message.function_call:
            raise _refuse(f"messages[{i}]", "tool and function messages belong to function calling")
        if message.role in ("system", "developer"):
            instructions.append(message.text())
        else:
            turns.append(Turn(role="user" if message.role == "user" else "assistant", content=message.text()))
    if not turns or turns[-1].role != "user":
        why = "no message with role 'user' to answer" if not turns else "the last message must have role 'user'"
        raise ApiError(400, f"messages: {why}", code="invalid_value", param="messages")
    joined = "\n\n".join(s.strip() for s in instructions if s.strip())
    return turns[-1].content, Conversation(turns=turns[:-1]), joined or None


def passed_settings(req: ChatRequest) -> dict[str, Any]:
    """The sampling settings that go to every model request of the ask (offline models ignore them)."""
    return {
        k: v for k, v in {"temperature": req.temperature, "top_p": req.top_p, "seed": req.seed}.items() if v is not None
    }


@router.post("/chat/completions", response_model=None)
async def chat_completions(req: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    """Answer the conversation's last user message; `stream: true` answers as SSE chunks ending in `[DONE]`."""
    orch = _orchestrator(request)
    agent = _agent_for(req.model, orch)
    refused = unsupported(req)
    if refused is not None:
        raise refused
    question, history, instructions = conversation_of(req)
    question = orch.check_question(question)
    options: dict[str, Any] = {
        "agent": agent,
        "conversation": history,
        "instructions": instructions,
        "model_settings": passed_settings(req),
    }
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return await stream_completion(orch.stream(question, **options), req.model, include_usage)
    result = await orch.ask(question, **options)
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
