"""Reading a pydantic-ai message history and answering it, as every offline model does."""

from __future__ import annotations

import json
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolReturnPart, UserPromptPart
from pydantic_ai.usage import RequestUsage

MODEL_NAME = "offline"


def user_prompt(messages: list[ModelMessage]) -> str:
    """The latest user prompt of the run (a specialist's part of the question, or the router's question)."""
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def has_tool_calls(messages: list[ModelMessage]) -> bool:
    return any(isinstance(m, ModelResponse) and m.tool_calls for m in messages)


def tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def response(parts: list[Any], prompt: str, text: str = "", model_name: str = MODEL_NAME) -> ModelResponse:
    """A response with a deterministic token estimate (about 4 characters a token)."""
    out = text or json.dumps([getattr(p, "args", "") for p in parts], default=str)
    usage = RequestUsage(input_tokens=max(1, len(prompt) // 4), output_tokens=max(1, len(out) // 4))
    return ModelResponse(parts=parts, usage=usage, model_name=model_name)
