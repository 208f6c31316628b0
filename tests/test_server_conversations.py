"""Multi-turn over the OpenAI-compatible endpoint (official SDK and LangChain-style bodies), the native
API's conversation ids, and the honest 400 for request fields crossroads cannot honour."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
import openai
import pytest
import respx
from server_support import API_KEY

from crossroads.config import load_settings
from crossroads.orchestrator import Orchestrator
from crossroads.testing.respx_bridge import RespxHttpx2Transport
from tests.provider_wire import COMPAT, SECRET, body_of

FIRST = "Should we store our ML feature data in PostgreSQL or in MongoDB?"
FOLLOW_UP = "which of the two is better for us?"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def client(service: tuple[str, Orchestrator]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service[0]}/v1", api_key=API_KEY, max_retries=0)


def stored(service: tuple[str, Orchestrator], trace_id: str) -> dict[str, Any]:
    response = httpx.get(f"{service[0]}/v1/traces/{trace_id}", headers=HEADERS)
    assert response.status_code == 200
    return response.json()


def test_multi_turn_with_the_official_sdk_follows_up_in_context(
    client: openai.OpenAI, service: tuple[str, Orchestrator]
) -> None:
    first = client.chat.completions.create(model="crossroads", messages=[{"role": "user", "content": FIRST}])
    first_route = first.model_extra["crossroads"]["route"]  # type: ignore[index]
    alone = client.chat.completions.create(model="crossroads", messages=[{"role": "user", "content": FOLLOW_UP}])
    assert alone.model_extra["crossroads"]["route"] != first_route  # type: ignore[index]  (alone it loses the context)
    follow = client.chat.completions.create(
        model="crossroads",
        messages=[
            {"role": "system", "content": "We are a small team; keep it practical."},
            {"role": "user", "content": FIRST},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    meta = follow.model_extra["crossroads"]  # type: ignore[index]
    assert meta["route"] == first_route and meta["stage"] == "conversation"
    assert "PostgreSQL or in MongoDB" in (follow.choices[0].message.content or "")
    trace = stored(service, meta["trace_id"])
    assert trace["conversation"]["exchanges"] == 1 and trace["conversation"]["included"] == 1
    assert trace["conversation"]["instructions"] is True
    assert trace["conversation"]["conversation_id"] is None  # OpenAI requests carry their own history


def test_streamed_follow_up_equals_the_plain_one(client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "It depends on the access patterns."},
        {"role": "user", "content": FOLLOW_UP},
    ]
    plain = client.chat.completions.create(model="crossroads", messages=messages)
    chunks = list(
        client.chat.completions.create(
            model="crossroads", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert finish.model_extra["crossroads"]["stage"] == "conversation"  # type: ignore[index]
    assert chunks[-1].usage is not None and chunks[-1].choices == []


# -- LangChain-style bodies, as ChatOpenAI sends them ---------------------------------------------------

LANGCHAIN_BODY: dict[str, Any] = {
    "messages": [
        {"content": "You are a helpful assistant.", "role": "system"},
        {"content": [{"type": "text", "text": FIRST}], "role": "user"},
        {"content": "Both can work; it depends on your queries.", "role": "assistant"},
        {"content": FOLLOW_UP, "role": "user"},
    ],
    "model": "crossroads",
    "n": 1,
    "stream": False,
    "temperature": 0.7,
    "max_completion_tokens": 512,
    "stop": ["\nObservation:"],
    "user": "u-42",
    "seed": 7,
    "top_p": 1,
    "parallel_tool_calls": None,
}


def test_langchain_style_body_is_answered_in_context(service: tuple[str, Orchestrator]) -> None:
    response = httpx.post(f"{service[0]}/v1/chat/completions", headers=HEADERS, json=LANGCHAIN_BODY, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["crossroads"]["stage"] == "conversation" and body["choices"][0]["message"]["content"]


def test_langchain_style_streaming_with_stream_options(service: tuple[str, Orchestrator]) -> None:
    request = {**LANGCHAIN_BODY, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream(
        "POST", f"{service[0]}/v1/chat/completions", headers=HEADERS, json=request, timeout=60
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
        ({"n": 2}, "n"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ],
)
def test_unsupported_fields_are_an_honest_400_naming_the_field(
    client: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="crossroads",
            messages=[{"role": "user", "content": FIRST}],
            extra_body=extra,
        )
    assert info.value.param == param and info.value.code == "unsupported_parameter"
    assert f"'{param}' is not supported" in info.value.message


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [
                {"role": "user", "content": FIRST},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
                {"role": "tool", "tool_call_id": "c", "content": "42"},
                {"role": "user", "content": FOLLOW_UP},
            ],
            "messages[1]",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}],
            "messages[0].content",
        ),
        ([{"role": "user", "content": FIRST}, {"role": "assistant", "content": "prefill"}], "messages"),
    ],
)
def test_messages_crossroads_cannot_read_are_refused(
    service: tuple[str, Orchestrator], messages: list[Any], param: str
) -> None:
    response = httpx.post(
        f"{service[0]}/v1/chat/completions",
        headers=HEADERS,
        json={"model": "crossroads", "messages": messages},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_accepted_fields_with_no_effect_do_not_fail(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="crossroads",
        messages=[{"role": "user", "content": FIRST}],
        n=1,
        tool_choice="none",
        response_format={"type": "text"},
        max_tokens=64,
        stop="###",
        user="someone",
        presence_penalty=0.5,
    )
    assert completion.choices[0].message.content


# -- the native API's stored conversations --------------------------------------------------------------


def test_native_ask_continues_a_stored_conversation(service: tuple[str, Orchestrator]) -> None:
    url = service[0]
    first = httpx.post(
        f"{url}/v1/ask", headers=HEADERS, json={"question": FIRST, "conversation_id": "web-7"}, timeout=60
    )
    assert first.status_code == 200
    with httpx.stream(
        "POST", f"{url}/v1/ask/stream", headers=HEADERS, json={"question": FOLLOW_UP, "conversation_id": "web-7"}
    ) as response:
        events = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "event: route" and events[-1] == "event: done"
    conversation = httpx.get(f"{url}/v1/conversations/web-7", headers=HEADERS).json()
    assert [t["role"] for t in conversation["turns"]] == ["user", "assistant", "user", "assistant"]
    assert conversation["turns"][0]["trace_id"] == first.json()["trace_id"]
    first_agents = [target["agent"] for target in first.json()["route"]["targets"]]
    assert conversation["turns"][2]["agents"] == first_agents  # the short follow-up stayed with them
    missing = httpx.get(f"{url}/v1/conversations/nobody", headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "conversation_not_found"
    bad = httpx.post(f"{url}/v1/ask", headers=HEADERS, json={"question": FIRST, "conversation_id": "a b"})
    assert bad.status_code == 422 and "conversation id" in bad.json()["error"]["message"]


# -- what reaches the provider (in process, respx behind the provider, ASGI in front) -------------------


def test_system_prompt_and_history_reach_the_provider(monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any) -> None:
    from crossroads.server import create_app

    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    provider = router.post(COMPAT.url).mock(return_value=httpx.Response(200, json=COMPAT.text("Use PostgreSQL.")))
    settings = load_settings(
        model=COMPAT.spec,
        base_url=COMPAT.base_url,
        trace_db="off",
        trace_commit="background",  # no lifespan runs in this in-process app
        server={"api_keys": [API_KEY]},
    )
    orchestrator = Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router))
    app = create_app(settings, orchestrator=orchestrator)
    app.state.orchestrator = orchestrator.prepare()

    async def run() -> Any:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as http:
            sdk = openai.AsyncOpenAI(base_url="http://t/v1", api_key=API_KEY, http_client=http, max_retries=0)
            try:
                return await sdk.chat.completions.create(
                    model="crossroads/data-ai",
                    temperature=0.2,
                    messages=[
                        {"role": "system", "content": "Answer for a team of three."},
                        {"role": "user", "content": FIRST},
                        {"role": "assistant", "content": "It depends on your queries."},
                        {"role": "user", "content": FOLLOW_UP},
                    ],
                )
            finally:
                await orchestrator.aclose()

    completion = asyncio.run(run())
    assert completion.choices[0].message.content == "Use PostgreSQL."
    sent = body_of(provider.calls[0].request)
    system = "\n".join(m["content"] for m in sent["messages"] if m["role"] == "system")
    assert "Data & AI Specialist" in system and "Answer for a team of three." in system
    turns = [(m["role"], m["content"]) for m in sent["messages"] if m["role"] != "system"]
    assert turns[:2] == [("user", FIRST), ("assistant", "It depends on your queries.")]
    assert turns[2][0] == "user" and turns[2][1].startswith(FOLLOW_UP)
    assert sent["temperature"] == 0.2  # passed through


def test_a_provider_failure_after_the_first_token_ends_the_openai_stream_with_an_error_chunk(
    monkeypatch: pytest.MonkeyPatch, fake_toolbox: Any
) -> None:
    from crossroads.server import create_app

    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", SECRET)
    router = respx.MockRouter(assert_all_mocked=True)
    pieces = ["Use ", "Postgre", "SQL ", "for ", "joins."]
    provider = router.post(COMPAT.url).mock(
        side_effect=[COMPAT.text_stream(pieces, broken_after=2), COMPAT.text_stream(pieces)]
    )
    settings = load_settings(
        model=COMPAT.spec,
        base_url=COMPAT.base_url,
        trace_db="off",
        trace_commit="background",  # no lifespan runs in this in-process app
        server={"api_keys": [API_KEY]},
    )
    orchestrator = Orchestrator(settings, toolbox=fake_toolbox, http_transport=RespxHttpx2Transport(router))
    app = create_app(settings, orchestrator=orchestrator)
    app.state.orchestrator = orchestrator.prepare()
    received: list[str] = []

    async def run() -> BaseException | None:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as http:
            sdk = openai.AsyncOpenAI(base_url="http://t/v1", api_key=API_KEY, http_client=http, max_retries=0)
            try:
                stream = await sdk.chat.completions.create(
                    model="crossroads/data-ai", stream=True, messages=[{"role": "user", "content": FIRST}]
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        received.append(chunk.choices[0].delta.content)
            except openai.APIError as exc:
                return exc
            finally:
                await orchestrator.aclose()
        return None

    error = asyncio.run(run())
    assert isinstance(error, openai.APIError) and error.code == "provider_error"  # the SDK raised the error chunk
    assert received == pieces[:2]  # the tokens sent before the failure, once
    assert provider.call_count == 1  # not retried after the first token
