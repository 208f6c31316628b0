"""The web page over plain HTTP: served, public, under a strict CSP, off with --no-ui; the trace filters
and the start offsets the waterfall draws with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi.testclient import TestClient
from server_support import API_KEY, server_settings
from typer.testing import CliRunner

from crossroads.config import load_settings
from crossroads.config.settings import PACKAGED_DEFAULTS, ServerSettings
from crossroads.orchestrator import Orchestrator
from crossroads.result import AskResult, RouteDecision, RouteTarget
from crossroads.server import create_app, ui
from crossroads.store import TraceStore

STATIC = Path(ui.__file__).parent / "static"
MULTI_WITH_CODE = (
    "How do I autoscale pods on Kubernetes with an HPA, and how do I monitor an ML model for data drift?"
    " Run this:\n```python\nprint(17*23)\n```"
)


@pytest.fixture(scope="module")
def keyed_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app of a server with keys; static routes only, so no lifespan (no orchestrator) is needed."""
    yield TestClient(create_app(server_settings(tmp_path_factory.mktemp("ui"))))


def test_page_is_public_and_the_data_behind_it_is_not(keyed_client: TestClient) -> None:
    page = keyed_client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    assert keyed_client.get("/v1/agents").status_code == 401
    assert keyed_client.get("/v1/traces").status_code == 401
    root = keyed_client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    assert keyed_client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"


def test_every_response_of_the_page_carries_a_strict_csp(keyed_client: TestClient) -> None:
    for name in ["", "app.js", "style.css", "favicon.svg"]:
        response = keyed_client.get(f"/ui/{name}")
        assert response.status_code == 200, name
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert keyed_client.get("/ui/app.js").headers["content-type"].startswith("text/javascript")


def test_only_the_shipped_files_are_served(keyed_client: TestClient) -> None:
    assert keyed_client.get("/ui/nothing.js").status_code == 404
    assert keyed_client.get("/ui/..%2fui.py").status_code == 404
    assert keyed_client.get("/ui/../app.py").status_code in (401, 404)  # normalised to /app.py: not public


def test_every_module_the_page_imports_is_shipped() -> None:
    shipped = set(ui.static_files())
    html = (STATIC / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="([\w.-]+\.(?:js|css|svg))"', html))
    for module in STATIC.glob("*.js"):
        referenced |= set(re.findall(r'from "\./([\w.-]+\.js)"', module.read_text()))
    assert referenced and referenced <= shipped


def test_no_inline_script_and_no_html_parsing_of_data() -> None:
    """The CSP forbids inline script; the modules never parse strings as HTML."""
    html = (STATIC / "index.html").read_text()
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\son\w+=", html) and "style=" not in html
    for module in STATIC.glob("*.js"):
        text = module.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{module.name} uses {sink}"
        assert not re.search(r"localStorage\s*[.\[]|document\.cookie\s*=", text), module.name


def test_ui_setting_is_in_step_with_defaults_toml() -> None:
    assert load_settings(PACKAGED_DEFAULTS).server.ui is True
    assert ServerSettings.model_validate({}).ui is True
    assert load_settings(PACKAGED_DEFAULTS).server == ServerSettings.model_validate({})


def test_ui_off_is_404_and_not_public(tmp_path: Path) -> None:
    client = TestClient(create_app(server_settings(tmp_path, ui=False)))
    assert client.get("/ui/").status_code == 401  # no longer public
    auth = {"Authorization": f"Bearer {API_KEY}"}
    for path in ["/", "/ui", "/ui/", "/ui/app.js"]:
        assert client.get(path, headers=auth, follow_redirects=False).status_code == 404, path


def _served_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *flags: str) -> Any:
    import uvicorn

    from crossroads.cli import app as cli_app

    captured: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: captured.update(app=app, **kw))
    cli_app._register_all()
    result = CliRunner().invoke(cli_app.app, ["serve", "--trace-db", str(tmp_path / "t.db"), *flags])
    assert result.exit_code == 0, result.output
    return captured["app"]


def test_serve_no_ui_turns_the_page_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert TestClient(_served_app(monkeypatch, tmp_path)).get("/ui/").status_code == 200
    assert TestClient(_served_app(monkeypatch, tmp_path, "--no-ui")).get("/ui/").status_code == 404


Status = Literal["ok", "out_of_scope", "error"]


def _result(trace_id: str, status: Status, agents: list[str], started_at: datetime) -> AskResult:
    route = RouteDecision(targets=[RouteTarget(agent=a, confidence=0.9, sub_question="q") for a in agents])
    return AskResult(
        trace_id=trace_id,
        question=f"question {trace_id}",
        answer="a",
        status=status,
        route=route,
        started_at=started_at,
    )


def test_store_recent_filters(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    day = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    store.submit(_result("a1", "ok", ["data-ai", "cloud-infra"], day))
    store.submit(_result("a2", "ok", ["language"], day + timedelta(days=1)))
    store.submit(_result("a3", "out_of_scope", [], day + timedelta(days=2)))
    store.submit(_result("a4", "error", ["cloud-infra"], day + timedelta(days=3, microseconds=1)))
    store.flush()
    try:
        ids = lambda rows: [r.trace_id for r in rows]  # noqa: E731
        assert ids(store.recent()) == ["a4", "a3", "a2", "a1"]
        assert ids(store.recent(status="ok")) == ["a2", "a1"]
        assert ids(store.recent(agent="cloud-infra")) == ["a4", "a1"]
        assert ids(store.recent(agent="cloud")) == []  # the whole name, not a substring
        assert ids(store.recent(status="ok", agent="cloud-infra")) == ["a1"]
        assert ids(store.recent(since=day + timedelta(days=1))) == ["a4", "a3", "a2"]  # since is inclusive
        assert ids(store.recent(until=day + timedelta(days=1))) == ["a1"]  # until is exclusive
        naive = (day + timedelta(days=2)).replace(tzinfo=None)  # naive means UTC
        assert ids(store.recent(since=naive)) == ["a4", "a3"]
        elsewhere = (day + timedelta(days=2)).astimezone(timezone(timedelta(hours=5)))
        assert ids(store.recent(since=elsewhere)) == ["a4", "a3"]
        assert ids(store.recent(last=1, agent="cloud-infra")) == ["a4"]
    finally:
        store.close()


@pytest.fixture
def http(service: tuple[str, Orchestrator]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service[0], headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
        yield client


def test_traces_endpoint_filters_and_records_have_start_offsets(
    http: httpx.Client, service: tuple[str, Orchestrator]
) -> None:
    multi = http.post("/v1/ask", json={"question": MULTI_WITH_CODE}).json()
    off_topic = http.post("/v1/ask", json={"question": "What is the best recipe for banana bread?"}).json()
    assert service[1].trace_store is not None
    service[1].trace_store.flush()  # the list shows committed traces only
    assert off_topic["status"] == "out_of_scope"
    records = multi["model_requests"] + multi["tool_calls"]
    assert multi["tool_calls"] and multi["model_requests"]
    for record in records:
        assert record["started_ms"] is not None and 0 <= record["started_ms"] <= multi["duration_ms"]
        assert record["started_ms"] + record["duration_ms"] <= multi["duration_ms"] + 1
    synthesis = [r["started_ms"] for r in multi["model_requests"] if r["agent"] == "synthesizer"]
    specialists = [r["started_ms"] for r in multi["model_requests"] if r["agent"] != "synthesizer"]
    assert synthesis and min(synthesis) >= max(specialists)  # synthesis comes after the specialists

    def listed(**params: Any) -> list[str]:
        response = http.get("/v1/traces", params={"last": 1000, **params})
        assert response.status_code == 200, response.text
        return [t["trace_id"] for t in response.json()]

    assert off_topic["trace_id"] in listed(status="out_of_scope")
    assert multi["trace_id"] not in listed(status="out_of_scope")
    assert multi["trace_id"] in listed(agent="data-ai") and off_topic["trace_id"] not in listed(agent="data-ai")
    started = datetime.fromisoformat(multi["started_at"])
    assert multi["trace_id"] in listed(since=(started - timedelta(minutes=1)).isoformat())
    assert listed(since=(datetime.now(UTC) + timedelta(days=1)).isoformat()) == []
    assert listed(until=(started - timedelta(days=1)).isoformat()) == []
    assert http.get("/v1/traces", params={"status": "bogus"}).status_code == 400
    assert http.get("/v1/traces", params={"since": "yesterday"}).status_code == 400
