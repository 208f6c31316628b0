"""The OpenAI-compatible surface, called with the official `openai` SDK against the real server."""

from __future__ import annotations

import httpx
import openai
import pytest
from server_support import API_KEY

from crossroads.orchestrator import Orchestrator

QUESTION = "How do I profile a slow Python loop and speed it up?"


@pytest.fixture
def client(service: tuple[str, Orchestrator]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service[0]}/v1", api_key=API_KEY, max_retries=0)


def test_models_lists_orchestrator_and_each_specialist(
    client: openai.OpenAI, service: tuple[str, Orchestrator]
) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "crossroads"
    assert set(ids[1:]) == {f"crossroads/{name}" for name in service[1].cards}
    assert client.models.retrieve("crossroads/core-dev").id == "crossroads/core-dev"


def test_chat_completion_carries_route_usage_and_trace(
    client: openai.OpenAI, service: tuple[str, Orchestrator]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="crossroads", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}]
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content
    assert completion.model_extra is not None
    meta = completion.model_extra["crossroads"]
    assert meta["route"] and meta["handoff_path"][0] == "router" and meta["status"] == "ok"
    assert completion.id == f"chatcmpl-{meta['trace_id']}"
    assert raw.headers["x-crossroads-trace-id"] == meta["trace_id"]
    assert raw.headers["x-crossroads-route"] == ",".join(meta["route"])
    usage = completion.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    stored = httpx.get(f"{service[0]}/v1/traces/{meta['trace_id']}", headers={"Authorization": f"Bearer {API_KEY}"})
    assert stored.status_code == 200 and stored.json()["answer"] == completion.choices[0].message.content


def test_specialist_model_bypasses_routing(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="crossroads/cloud-infra", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.model_extra is not None
    meta = completion.model_extra["crossroads"]
    assert meta["route"] == ["cloud-infra"] and meta["stage"] == "fixed"


def test_content_parts_are_accepted(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="crossroads", messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    )
    assert completion.choices[0].message.content


def test_streaming_yields_chunks_then_usage_and_done(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="crossroads", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(
        client.chat.completions.create(
            model="crossroads",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"]
    assert finish[0].model_extra is not None and finish[0].model_extra["crossroads"]["route"]
    assert len({c.id for c in chunks}) == 1
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens > 0


def test_streaming_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="crossroads", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_raw_sse_ends_with_done(service: tuple[str, Orchestrator]) -> None:
    with httpx.stream(
        "POST",
        f"{service[0]}/v1/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"model": "crossroads", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-crossroads-trace-id"]
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"


def test_unknown_model_is_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert info.value.code == "model_not_found" and info.value.param == "model"


def test_no_user_message_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="crossroads", messages=[{"role": "system", "content": "hi"}])
    assert info.value.param == "messages"


def test_empty_question_is_422(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="crossroads", messages=[{"role": "user", "content": "   "}])
    assert info.value.code == "invalid_input" and "empty" in info.value.message


def test_async_client_streams(service: tuple[str, Orchestrator]) -> None:
    import asyncio

    async def run() -> str:
        client = openai.AsyncOpenAI(base_url=f"{service[0]}/v1", api_key=API_KEY, max_retries=0)
        stream = await client.chat.completions.create(
            model="crossroads", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await client.close()
        return "".join(parts)

    assert asyncio.run(run())
