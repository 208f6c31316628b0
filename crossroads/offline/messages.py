"""Reading a pydantic-ai message history and answering it, as every offline model does."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls
from pydantic_ai.usage import RequestUsage

MODEL_NAME = "offline"
_WORD = re.compile(r"\s*\S+\s*")
Respond = Callable[[list[ModelMessage], AgentInfo], ModelResponse]


def user_prompt(messages: list[ModelMessage]) -> str:
    """The latest user prompt of the run (a specialist's part of the question, or the router's question)."""
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def earlier_prompts(messages: list[ModelMessage]) -> list[str]:
    """The user prompts before the latest one: a conversation's earlier questions, oldest first."""
    prompts = [
        part.content
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart) and isinstance(part.content, str)
    ]
    return prompts[:-1]


def has_tool_calls(messages: list[ModelMessage]) -> bool:
    return any(isinstance(m, ModelResponse) and m.tool_calls for m in messages)


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def response(parts: list[Any], prompt: str, text: str = "", model_name: str = MODEL_NAME) -> ModelResponse:
    """A response with a deterministic token estimate (about 4 characters a token)."""
    out = text or json.dumps([getattr(p, "args", "") for p in parts], default=str)
    usage = RequestUsage(input_tokens=max(1, len(prompt) // 4), output_tokens=max(1, len(out) // 4))
    return ModelResponse(parts=parts, usage=usage, model_name=model_name)


def word_deltas(text: str) -> list[str]:
    """`text` in word-sized pieces (each word with the whitespace around it) that join back exactly."""
    pieces = _WORD.findall(text)
    consumed = sum(map(len, pieces))
    if consumed < len(text):  # only whitespace, or whitespace after the last word
        pieces.append(text[consumed:])
    return pieces


def streamed(respond: Respond) -> Callable[[list[ModelMessage], AgentInfo], AsyncIterator[str | DeltaToolCalls]]:
    """A `FunctionModel` stream function answering exactly what `respond` answers, a word at a time.

    So a streamed run (`Orchestrator.stream`) and a plain one (`ask`) of the offline model give the same
    tool calls and the same text; only the delivery differs. Tool calls arrive whole in one chunk (a
    real provider streams their arguments, but nothing reads partial arguments).
    """

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        response = respond(messages, info)
        calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
        if calls:
            yield {
                i: DeltaToolCall(name=c.tool_name, json_args=c.args_as_json_str(), tool_call_id=c.tool_call_id)
                for i, c in enumerate(calls)
            }
            return
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        for piece in word_deltas(text) or [""]:
            yield piece

    return stream
