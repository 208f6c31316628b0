"""Provider wire formats for respx tests: response bodies shaped like the real APIs, and readers for the
request bodies crossroads sends. One `Wire` per provider, so every test runs against all three."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
OPENAI_URL = "https://api.openai.com/v1/responses"
COMPAT_BASE = "http://127.0.0.1:11434/v1"
COMPAT_URL = f"{COMPAT_BASE}/chat/completions"


@dataclass(frozen=True)
class Wire:
    name: str
    spec: str
    url: str
    key_env: str | None
    base_url: str | None = None

    # -- responses --------------------------------------------------------------------------------

    def text(
        self, text: str, *, input_tokens: int = 100, output_tokens: int = 20, cache_read: int = 0, cache_write: int = 0
    ) -> dict[str, Any]:
        if self.name == "anthropic":
            return _anthropic(
                [{"type": "text", "text": text}], "end_turn", input_tokens, output_tokens, cache_read, cache_write
            )
        if self.name == "openai":
            return _responses(
                [
                    {
                        "type": "message",
                        "id": "msg_0a1",
                        "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}],
                    }
                ],
                input_tokens,
                output_tokens,
                cache_read,
            )
        return _chat({"role": "assistant", "content": text}, "stop", input_tokens, output_tokens)

    def tool_call(
        self,
        name: str,
        args: dict[str, Any],
        call_id: str = "call_1",
        *,
        input_tokens: int = 100,
        output_tokens: int = 20,
    ) -> dict[str, Any]:
        if self.name == "anthropic":
            return _anthropic(
                [{"type": "tool_use", "id": f"toolu_{call_id}", "name": name, "input": args}],
                "tool_use",
                input_tokens,
                output_tokens,
            )
        if self.name == "openai":
            return _responses(
                [
                    {
                        "type": "function_call",
                        "id": f"fc_{call_id}",
                        "call_id": call_id,
                        "name": name,
                        "arguments": json.dumps(args),
                        "status": "completed",
                    }
                ],
                input_tokens,
                output_tokens,
            )
        return _chat(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                ],
            },
            "tool_calls",
            input_tokens,
            output_tokens,
        )

    def text_stream(
        self, pieces: list[str], *, input_tokens: int = 100, output_tokens: int = 20, broken_after: int | None = None
    ) -> httpx.Response:
        """A streamed text answer (`stream: true`) as this provider sends it: SSE, one event per piece.

        `broken_after=n` sends n pieces, then a line that is not JSON: a stream failing after its first tokens.
        """
        events = _stream_events(self.name, pieces, input_tokens, output_tokens)
        if broken_after is not None:
            events = events[: _first_piece_event(self.name) + broken_after]
        body = "".join(
            (f"event: {e['type']}\n" if self.name != "chat" else "") + f"data: {json.dumps(e)}\n\n" for e in events
        )
        if broken_after is not None and self.name == "anthropic":  # how Anthropic reports a failure mid-stream
            overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            body += f"event: error\ndata: {json.dumps(overloaded)}\n\n"
        elif broken_after is not None:
            body += "data: {not json\n\n"
        elif self.name == "chat":
            body += "data: [DONE]\n\n"
        return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})

    def error(self, status: int, headers: dict[str, str] | None = None) -> httpx.Response:
        if self.name == "anthropic":
            kind = {
                429: "rate_limit_error",
                529: "overloaded_error",
                401: "authentication_error",
                400: "invalid_request_error",
            }.get(status, "api_error")
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": f"error {status}"}}
        else:
            body = {
                "error": {
                    "message": f"error {status}",
                    "type": "server_error" if status >= 500 else "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
        return httpx.Response(status, json=body, headers=headers or {})

    # -- requests ---------------------------------------------------------------------------------

    def system(self, body: dict[str, Any]) -> str:
        if self.name == "anthropic":
            system = body.get("system") or ""
            return system if isinstance(system, str) else "\n".join(b["text"] for b in system)
        if self.name == "openai":
            return body.get("instructions") or ""
        return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")

    def tool_results(self, body: dict[str, Any]) -> list[str]:
        """The contents of the tool results sent back to the model, in order."""
        if self.name == "anthropic":
            return [
                json.dumps(block["content"])
                for m in body["messages"]
                if isinstance(m["content"], list)
                for block in m["content"]
                if block.get("type") == "tool_result"
            ]
        if self.name == "openai":
            return [str(item["output"]) for item in body["input"] if item.get("type") == "function_call_output"]
        return [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]

    def tools(self, body: dict[str, Any]) -> list[str]:
        if self.name == "chat":
            return [t["function"]["name"] for t in body.get("tools", [])]
        return [t["name"] for t in body.get("tools", [])]


def _first_piece_event(name: str) -> int:
    """How many events come before the first text piece in `_stream_events`."""
    return {"anthropic": 2, "openai": 3, "chat": 1}[name]


def _stream_events(name: str, pieces: list[str], inp: int, out: int) -> list[dict[str, Any]]:
    if name == "anthropic":
        start = _anthropic([], "", inp, 1)
        start["stop_reason"] = None
        return [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": out},
            },
            {"type": "message_stop"},
        ]
    if name == "openai":
        created = {**_responses([], 0, 0), "status": "in_progress", "usage": None}
        item = {"type": "message", "id": "msg_0a1", "status": "in_progress", "role": "assistant", "content": []}
        text = "".join(pieces)
        done_item = {
            **item,
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        where = {"item_id": "msg_0a1", "output_index": 0, "content_index": 0}
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": created},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {
                "type": "response.content_part.added",
                **where,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
            *({"type": "response.output_text.delta", **where, "delta": p, "logprobs": []} for p in pieces),
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.output_item.done", "output_index": 0, "item": done_item},
            {"type": "response.completed", "response": _responses([done_item], inp, out)},
        ]
        return [{**e, "sequence_number": i} for i, e in enumerate(events)]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 1735689600,
            "model": "llama3.2",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": p}) for p in pieces),
        chunk({}, "stop"),
        {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "created": 1735689600,
            "model": "llama3.2",
            "choices": [],
            "usage": usage,
        },
    ]


def _anthropic(
    content: list[dict[str, Any]], stop: str, inp: int, out: int, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": inp,
            "output_tokens": out,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        },
    }


def _responses(output: list[dict[str, Any]], inp: int, out: int, cached: int = 0) -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1741476542,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-5",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
        "user": None,
        "usage": {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": inp + out,
        },
    }


def _chat(message: dict[str, Any], finish: str, inp: int, out: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1735689600,
        "model": "llama3.2",
        "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
    }


ANTHROPIC = Wire("anthropic", "anthropic:claude-sonnet-4-6", ANTHROPIC_URL, "ANTHROPIC_API_KEY")
OPENAI = Wire("openai", "openai:gpt-5", OPENAI_URL, "OPENAI_API_KEY")
COMPAT = Wire("chat", "openai-compatible:llama3.2", COMPAT_URL, None, base_url=COMPAT_BASE)
WIRES = [ANTHROPIC, OPENAI, COMPAT]
SECRET = "sk-test-5ecr3t-do-not-log"


def body_of(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)
