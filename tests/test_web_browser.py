"""The web page in a real headless browser: Playwright for Python driving Debian's chromium.

Outside CI the tests skip, saying why, when playwright or chromium is missing; under CI
(`CROSSROADS_CI=1`, exported by .ci/run, which installs chromium) a missing browser is a failure.
Screenshots, if a test takes any, go to its tmp_path, never into the repository.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from server_support import API_KEY, running_service, server_settings

from crossroads.orchestrator import Orchestrator
from crossroads.tools.models import MathResult, PythonResult, SqlResult

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

IN_CI = os.environ.get("CROSSROADS_CI") == "1"
CHROMIUM = os.environ.get("CROSSROADS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [  # /work/.library/env/machines/python.md: without the network flags it calls Google
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MULTI = (
    "How do I autoscale pods on Kubernetes with an HPA, and how do I monitor an ML model for data drift?"
    " Run this:\n```python\nprint(17*23)\n```"
)
HOSTILE_QUESTION = (
    "<img src=x onerror=alert(1)><script>window.__pwned=1</script> Why does this print bold?\n"
    '```python\nprint("<b>bold</b>")\n```'
)
HOSTILE_OUTPUT = '<img src=x onerror="alert(2);window.__pwned=2"><script>window.__pwned=3</script>\n'
OFF_TOPIC = "What is the best recipe for banana bread?"


class HostileToolbox:
    """A sandbox stand-in whose every output is HTML meant to run, so that answers and traces carry it."""

    async def run_python(self, code: str, timeout: float | None = None) -> PythonResult:
        return PythonResult(ok=True, stdout=HOSTILE_OUTPUT, exit_code=0, tier="bwrap")

    async def check_math(self, claim: str, timeout: float | None = None) -> MathResult:
        return MathResult(verified=False, kind="equality", claim=claim, explanation=HOSTILE_OUTPUT, tier="bwrap")

    async def run_sql(self, query: str, tables: Any = None, timeout: float | None = None) -> SqlResult:
        return SqlResult(ok=True, columns=["<b>n</b>"], rows=[[HOSTILE_OUTPUT]], row_count=1, tier="bwrap")

    async def aclose(self) -> None:
        pass


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _unavailable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"the browser tests must run in CI, but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def open_service(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Orchestrator]]:
    """A server without keys (loopback), offline model, hostile tool outputs, traces in a tmp dir.

    It asks for `browser` so that nothing is started when the browser tests skip.
    """
    settings = server_settings(tmp_path_factory.mktemp("web"), api_keys=[])
    with running_service(settings, HostileToolbox()) as pair:
        yield pair


@pytest.fixture(scope="module")
def keyed_service(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Orchestrator]]:
    """The same with the test API key required."""
    with running_service(server_settings(tmp_path_factory.mktemp("web-keyed")), HostileToolbox()) as pair:
        yield pair


class Watch:
    """A page plus what must never happen on it: dialogs (alert) and uncaught script errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []

        def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))


@pytest.fixture
def watch(browser: Browser) -> Iterator[Watch]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    watched = Watch(context.new_page())
    try:
        yield watched
        assert watched.errors == [], f"script errors on the page: {watched.errors}"
    finally:
        context.close()


def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll a condition (the page's CSP forbids the string evaluation `wait_for_function` relies on)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.05)


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector("#answer-trace:not([hidden])")


def test_multi_domain_ask_lights_both_specialists_and_streams_the_answer(
    watch: Watch, open_service: tuple[str, Orchestrator]
) -> None:
    page = watch.page
    page.goto(f"{open_service[0]}/ui/")
    page.wait_for_selector("#graph-svg .node[data-agent='data-ai']")
    assert page.locator("#key-panel").is_hidden()  # no keys on this server: no key form
    assert page.locator("#graph-svg .node.routed").count() == 0
    ask(page, MULTI)
    for agent in ("data-ai", "cloud-infra"):
        assert page.locator(f"#graph-svg .node.routed.finished[data-agent='{agent}']").count() == 1, agent
        assert page.locator(f"#graph-svg path.edge.lit[data-from='router'][data-to='{agent}']").count() == 1
    assert page.locator("#graph-svg .node.routed[data-agent='core-dev']").count() == 0
    assert page.locator("#graph-svg .node.tooled[data-agent='language'] .badge").text_content() == "⚙ 1"
    log = page.locator("#event-log").inner_text()
    assert "route:" in log and "called run_python" in log and "synthesis of" in log
    answer = page.locator("#answer")
    assert "Cloud & Infrastructure" in answer.inner_text() and "Data & AI" in answer.inner_text()
    # streamed: the text deltas were appended one by one (a final replacement would leave one text node)
    assert page.evaluate("document.getElementById('answer').childNodes.length") > 3
    assert "ok in" in page.locator("#ask-status").inner_text()
    assert page.locator("#route-info .scores li.chosen").count() == 3


def test_open_the_trace_and_expand_a_tool_call(watch: Watch, open_service: tuple[str, Orchestrator]) -> None:
    page = watch.page
    page.goto(f"{open_service[0]}/ui/")
    ask(page, MULTI)
    page.click("#answer-trace")
    page.wait_for_selector(".waterfall")
    assert page.locator(".trace-question").inner_text() == MULTI
    route_row = page.locator(".wf-row.kind-route")
    assert "local" in route_row.locator("summary").inner_text()
    specialists = page.locator(".wf-row.kind-specialist")
    assert sorted(specialists.evaluate_all("rows => rows.map(r => r.dataset.agent)")) == [
        "cloud-infra",
        "data-ai",
        "language",
    ]
    assert page.locator(".wf-row.kind-synthesis").count() == 1
    assert page.locator(".wf-row.kind-model").count() >= 4
    tool = page.locator(".wf-row.kind-tool").first
    assert tool.locator(".wf-body").is_hidden()
    tool.locator("summary").click()
    body = tool.locator(".wf-body")
    assert body.is_visible()
    assert "print(17*23)" in body.inner_text()  # the input
    assert HOSTILE_OUTPUT.strip() in body.inner_text()  # the output, literally
    route_row.locator("summary").click()
    assert "decided by local" in route_row.locator(".wf-body").inner_text()
    assert page.locator("#trace-detail svg .node.routed[data-agent='data-ai']").count() == 1


def test_trace_list_filters(watch: Watch, open_service: tuple[str, Orchestrator]) -> None:
    from playwright.sync_api import expect

    base, orchestrator = open_service
    with httpx.Client(base_url=base, timeout=30) as http:
        for question in (MULTI, OFF_TOPIC, "How do I shard a Postgres table by tenant?"):
            assert http.post("/v1/ask", json={"question": question}).status_code == 200
    assert orchestrator.trace_store is not None
    orchestrator.trace_store.flush()
    page = watch.page
    page.goto(f"{base}/ui/#/traces")
    rows = page.locator("#trace-list tbody tr")
    rows.first.wait_for()
    total = rows.count()
    assert total >= 3
    statuses = "rows => rows.map(r => r.dataset.status)"

    page.select_option("#trace-filters select[name=status]", "out_of_scope")
    until(lambda: 0 < rows.count() < total)
    assert set(rows.evaluate_all(statuses)) == {"out_of_scope"}

    page.select_option("#trace-filters select[name=status]", "")
    page.select_option("#trace-filters select[name=agent]", "cloud-infra")
    until(lambda: rows.count() > 0 and set(rows.evaluate_all(statuses)) == {"ok"})
    routes = rows.evaluate_all("rows => rows.map(r => r.children[2].textContent)")
    assert routes and all("cloud-infra" in r for r in routes)

    page.select_option("#trace-filters select[name=agent]", "")
    page.fill("#trace-filters input[name=since]", "2999-01-01")
    page.locator("#trace-filters input[name=since]").dispatch_event("change")
    page.wait_for_selector("#traces-status:has-text('no trace matches')")
    assert rows.count() == 0
    page.fill("#trace-filters input[name=since]", "")
    page.fill("#trace-filters input[name=until]", "2000-01-01")
    page.locator("#trace-filters input[name=until]").dispatch_event("change")
    page.wait_for_selector("#traces-status:has-text('no trace matches')")
    page.fill("#trace-filters input[name=until]", "")
    page.locator("#trace-filters button[type=submit]").click()
    expect(rows).to_have_count(total)

    page.locator("#trace-list tbody tr[data-status=out_of_scope] td.question a").first.click()
    page.wait_for_selector(".waterfall")
    assert page.locator(".trace-question").inner_text() == OFF_TOPIC
    assert "abstained" in page.locator(".wf-row.kind-route summary").inner_text()


def test_key_protected_server_asks_for_a_key_and_refuses_a_wrong_one(
    watch: Watch, keyed_service: tuple[str, Orchestrator]
) -> None:
    page = watch.page
    page.goto(f"{keyed_service[0]}/ui/")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert "needs an API key" in page.locator("#key-message").inner_text()
    assert page.locator("#main").is_hidden()
    page.fill("#key-input", "sk-wrong")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-message:has-text('refused')")
    assert page.locator("#main").is_hidden()
    page.fill("#key-input", API_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#main:not([hidden])")
    assert page.locator("#key-panel").is_hidden() and page.locator("#key-state").is_visible()
    ask(page, "How do I rotate JWT signing keys?")
    assert page.locator("#graph-svg .node.routed").count() >= 1
    # the key stays in this tab: sessionStorage only, no cookie, no localStorage
    assert page.evaluate("sessionStorage.getItem('crossroads.apiKey')") == API_KEY
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    page.reload()
    page.wait_for_selector("#main:not([hidden])")  # a reload of the tab keeps it
    other = page.context.browser
    assert other is not None
    fresh = other.new_context().new_page()  # another tab's storage does not have it
    try:
        fresh.goto(f"{keyed_service[0]}/ui/")
        fresh.wait_for_selector("#key-panel:not([hidden])")
    finally:
        fresh.context.close()
    page.click("#forget-key")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('crossroads.apiKey')") is None


def test_hostile_question_and_answer_are_shown_literally(
    watch: Watch, open_service: tuple[str, Orchestrator], tmp_path: Path
) -> None:
    page = watch.page
    page.goto(f"{open_service[0]}/ui/")
    ask(page, HOSTILE_QUESTION)
    answer = page.locator("#answer").inner_text()
    assert HOSTILE_OUTPUT.strip() in answer  # the tool output in the answer, as text
    page.click("#answer-trace")
    page.wait_for_selector(".waterfall")
    assert page.locator(".trace-question").inner_text() == HOSTILE_QUESTION
    for row in page.locator(".wf-row").all():
        row.locator("summary").click()
    assert HOSTILE_OUTPUT.strip() in page.locator(".wf-row.kind-tool .wf-body").inner_text()
    page.goto(f"{open_service[0]}/ui/#/traces")
    link = page.locator("#trace-list td.question a").first
    link.wait_for()
    assert link.text_content() == HOSTILE_QUESTION
    page.wait_for_timeout(300)  # give an onerror handler every chance to fire
    assert watch.dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0
    page.screenshot(path=str(tmp_path / "hostile.png"))  # tmp_path only, never the repository


def test_csp_blocks_an_injection_that_slipped_through(watch: Watch, open_service: tuple[str, Orchestrator]) -> None:
    """Even HTML injected into the page (a rendering bug) cannot run script: the CSP forbids inline code."""
    page = watch.page
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{open_service[0]}/ui/")
    page.wait_for_selector("#main:not([hidden])")
    page.evaluate(
        """() => {
            const box = document.createElement('div');
            box.id = 'injected';
            box.innerHTML = '<img src=x onerror="window.__pwned=1"><a href="javascript:window.__pwned=2">x</a>';
            document.body.append(box);
            const s = document.createElement('script');
            s.textContent = 'window.__pwned = 3';
            document.body.append(s);
        }"""
    )
    page.click("#injected a")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert violations, "the browser reported no CSP violation"


HANDOFF = (
    "How do I train a gradient boosting churn model with cross-validation? Also, how do I deploy the model"
    " container on Kubernetes with a Helm chart and autoscaling?"
)


def test_a_handoff_lights_its_edge_live_and_in_the_trace(watch: Watch, open_service: tuple[str, Orchestrator]) -> None:
    page = watch.page
    page.goto(f"{open_service[0]}/ui/")
    page.select_option("#ask-agent", "data-ai")  # routing bypassed, as in scenarios/handoffs.yaml
    ask(page, HANDOFF)
    assert page.locator("#graph-svg path.edge.lit[data-from='data-ai'][data-to='cloud-infra']").count() == 1
    assert page.locator("#graph-svg .node.handed[data-agent='cloud-infra']").count() == 1
    assert page.locator("#graph-svg .node.routed[data-agent='cloud-infra']").count() == 0  # reached by handoff
    assert "handed off to cloud-infra" in page.locator("#event-log").inner_text()
    page.click("#answer-trace")
    handoff = page.locator(".wf-row.kind-handoff")
    handoff.locator("summary").click()
    assert "fixed" in page.locator(".wf-row.kind-route summary").inner_text()
    body = handoff.locator(".wf-body").inner_text()
    assert "data-ai" in body and "cloud-infra" in body and "yes" in body


def test_an_unusable_question_shows_the_servers_message(watch: Watch, open_service: tuple[str, Orchestrator]) -> None:
    page = watch.page
    page.goto(f"{open_service[0]}/ui/")
    page.wait_for_selector("#main:not([hidden])")
    page.fill("#question", "x" * 20_001)
    page.click("#ask-button")
    page.wait_for_selector("#ask-status.error")
    assert "limit is 20000" in page.locator("#ask-status").inner_text()
    assert page.locator("#ask-button").is_enabled() and page.locator("#answer-trace").is_hidden()
