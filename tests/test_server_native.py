"""crossroads' own HTTP endpoints, called with httpx against the real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_support import API_KEY, running_service, server_settings

from crossroads.events import Done, StreamEventAdapter
from crossroads.orchestrator import Orchestrator

QUESTION = "How do I profile a slow Python loop and speed it up?"


@pytest.fixture
def http(service: tuple[str, Orchestrator]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service[0], headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
        yield client


def test_ask_returns_the_full_result_and_it_is_stored(http: httpx.Client) -> None:
    response = http.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert body["answer"] and body["status"] == "ok" and body["route"]["targets"]
    assert body["handoff_path"][0] == "router" and body["usage"]["requests"] >= 1
    assert response.headers["x-crossroads-trace-id"] == body["trace_id"]
    stored = http.get(f"/v1/traces/{body['trace_id']}")
    assert stored.status_code == 200 and stored.json()["answer"] == body["answer"]
    listed = http.get("/v1/traces", params={"last": 50}).json()
    assert body["trace_id"] in [t["trace_id"] for t in listed]


def test_ask_with_agent_bypasses_routing(http: httpx.Client) -> None:
    body = http.post("/v1/ask", json={"question": QUESTION, "agent": "data-ai"}).json()
    assert body["route"]["stage"] == "fixed" and [t["agent"] for t in body["route"]["targets"]] == ["data-ai"]


def test_ask_stream_sends_typed_events_ending_in_done(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/ask/stream", json={"question": QUESTION}) as response:
        assert response.status_code == 200
        text = response.read().decode()
    events = [StreamEventAdapter.validate_json(block.split("data: ", 1)[1]) for block in text.strip().split("\n\n")]
    kinds = [e.type for e in events]
    assert kinds[0] == "route" and kinds[-1] == "done" and "text_delta" in kinds
    answer = "".join(e.delta for e in events if e.type == "text_delta")
    done = events[-1]
    assert isinstance(done, Done)
    assert answer == done.result.answer


def test_route_agents_graph(http: httpx.Client, service: tuple[str, Orchestrator]) -> None:
    route = http.post("/v1/route", json={"question": QUESTION}).json()
    assert route["targets"] and route["stage"]
    agents = http.get("/v1/agents").json()
    assert {a["name"] for a in agents} == set(service[1].cards)
    assert all(a["handoffs"] for a in agents)
    graph = http.get("/v1/graph").json()
    assert graph["nodes"][0] == "router" and graph["edges"]
    mermaid = http.get("/v1/graph", params={"format": "mermaid"})
    assert mermaid.headers["content-type"].startswith("text/vnd.mermaid")
    assert mermaid.text.startswith(service[1].graph.to_mermaid()[:10])
    by_accept = http.get("/v1/graph", headers={"Accept": "text/vnd.mermaid"})
    assert by_accept.text == mermaid.text


def test_unknown_trace_and_path_are_404_in_openai_shape(http: httpx.Client) -> None:
    missing = http.get(f"/v1/traces/{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "trace_not_found"
    nowhere = http.get("/v1/nowhere")
    assert nowhere.status_code == 404 and set(nowhere.json()["error"]) == {"message", "type", "param", "code"}


def test_health_readiness_and_openapi_need_no_key(service: tuple[str, Orchestrator]) -> None:
    base = service[0]
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["status"] == "ready" and ready["agents"] == len(service[1].cards) and ready["trace_store"]
    spec = httpx.get(f"{base}/openapi.json").json()
    assert {"/v1/ask", "/v1/chat/completions", "/v1/models", "/v1/traces/{trace_id}"} <= set(spec["paths"])
    assert httpx.get(f"{base}/docs").status_code == 200


def test_unknown_agent_is_422(http: httpx.Client) -> None:
    response = http.post("/v1/ask", json={"question": QUESTION, "agent": "nobody"})
    assert response.status_code == 422 and "unknown agent" in response.json()["error"]["message"]


def test_failed_ask_is_422_with_trace_id_and_stored(tmp_path: Path) -> None:
    from conftest import FakeToolbox

    settings = server_settings(tmp_path).model_copy(update={"timeout": 1e-6})
    with running_service(settings, FakeToolbox()) as (url, orchestrator):
        response = httpx.post(
            f"{url}/v1/ask", json={"question": QUESTION}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert response.status_code == 422
        body = response.json()
        assert body["error"]["code"] == "limit_exceeded" and body["error"]["param"] == "timeout"
        trace_id = body["crossroads"]["trace_id"]
        assert response.headers["x-crossroads-trace-id"] == trace_id
        stored = httpx.get(f"{url}/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {API_KEY}"})
        assert stored.json()["status"] == "error"
        assert json.loads(stored.text)["error"].startswith("limit 'timeout'")
