"""Record the cassettes of `replay.yaml` against a mock OpenAI-compatible server.

    /work/venv/bin/python scenarios/record_cassettes.py

The scenarios in `replay.yaml` run on `openai-compatible:llama3.2`. Here that provider's real client
(the OpenAI SDK over httpx2) talks to a respx route shaped exactly like `POST {base_url}/chat/completions`;
a small scripted "LLM" answers from what each request contains (the system prompt says which agent
asks, tool results in the history end a turn). The runner records every model exchange at the model
interface into `replay.cassettes/<scenario>.json`; `crossroads test` then replays them offline.
A placeholder API key is set while recording to prove no key ends up in a cassette.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import respx

HERE = Path(__file__).resolve().parent
BASE_URL = "http://127.0.0.1:11434/v1"
RECORDING_KEY = "sk-recording-placeholder-0123456789"

_DISPLAY = {
    "Cloud & Infrastructure Specialist": "cloud-infra",
    "Data & AI Specialist": "data-ai",
    "Core Development Specialist": "core-dev",
    "Architecture & Security Specialist": "architecture-security",
    "Language & Framework Specialist": "language",
}
_ROUTING_WORDS = {
    "kubernetes": "cloud-infra",
    "jwt": "architecture-security",
    "gdpr": "architecture-security",
    "pytorch model on kubernetes": "cloud-infra",
}
_ANSWERS = {
    "cloud-infra": "Create a HorizontalPodAutoscaler (autoscaling/v2) targeting the Deployment, set CPU requests,"
    " and min/max replicas; for GPU node pools add taints and tolerations.",
    "data-ai": "Monitor model drift by comparing feature and prediction distributions (PSI, KS test) against the"
    " training baseline and alert when drift exceeds a threshold.",
    "architecture-security": "Rotate JWT signing keys with a JWKS endpoint: publish the new key, sign with it,"
    " keep the old key for verification until tokens expire. For GDPR, minimise and"
    " encrypt personal training data.",
    "core-dev": "The snippet sums squares.",
    "language": "Use the idiomatic construct.",
}


def _completion(message: dict[str, Any], finish: str, body: dict[str, Any]) -> dict[str, Any]:
    prompt_tokens = max(1, len(json.dumps(body["messages"])) // 4)
    completion_tokens = max(1, len(json.dumps(message)) // 4)
    return {
        "id": "chatcmpl-recorded",
        "object": "chat.completion",
        "created": 1735689600,
        "model": body["model"],
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _tool_call(name: str, args: dict[str, Any], body: dict[str, Any], n: int = 1) -> dict[str, Any]:
    call = {"id": f"call_{name}_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return _completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", body)


def _text(text: str, body: dict[str, Any]) -> dict[str, Any]:
    return _completion({"role": "assistant", "content": text}, "stop", body)


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def scripted_llm(body: dict[str, Any]) -> dict[str, Any]:
    """One chat-completions response for one request, decided by the request alone."""
    system = " ".join(_content(m) for m in body["messages"] if m["role"] in ("system", "developer"))
    user = next(_content(m) for m in body["messages"] if m["role"] == "user")
    tools = {t["function"]["name"] for t in body.get("tools", [])}
    tool_results = [_content(m) for m in body["messages"] if m["role"] == "tool"]
    if "route a developer's question" in system:
        question = user.lower()
        agents = []
        for word, agent in _ROUTING_WORDS.items():
            if word in question and agent not in agents:
                agents.append(agent)
        targets = [{"agent": a, "confidence": 0.9, "sub_question": user} for a in agents]
        return _tool_call(
            "final_result",
            {"abstain": not targets, "targets": targets, "reason": "matched the question's topics"},
            body,
        )
    if "synthesiser" in system:
        return _text("Synthesis of the specialists' answers:\n" + user[-1500:], body)
    match = re.search(r"You are the (.+?) of crossroads", system)
    agent = _DISPLAY.get(match.group(1), "core-dev") if match else "core-dev"
    if tool_results:
        return _text(f"{_ANSWERS[agent]} Tool results: " + " | ".join(r[:400] for r in tool_results), body)
    code = re.search(r"```python\n(.*?)```", user, re.DOTALL)
    claim = re.search(r"Is it true that (.+?)\?", user)
    if code and "run_python" in tools:
        return _tool_call("run_python", {"code": code.group(1)}, body)
    if claim and "check_math" in tools:
        return _tool_call("check_math", {"claim": claim.group(1)}, body)
    if "handoff" in tools and agent == "cloud-infra" and "drift" in user:
        return _tool_call(
            "handoff",
            {"to": "data-ai", "question": "How do I monitor model drift in production?", "reason": "ML monitoring"},
            body,
        )
    return _text(_ANSWERS[agent], body)


def _contains(path: Path, text: str) -> bool:
    return text in path.read_text(encoding="utf-8")


async def record(paths: list[Path]) -> int:
    from crossroads.testing.report import print_summary
    from crossroads.testing.respx_bridge import RespxHttpx2Transport
    from crossroads.testing.runner import Report, RunOptions, ScenarioRunner
    from crossroads.testing.scenario import load_paths

    scenarios, errors = load_paths(paths)
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        return 2
    router = respx.MockRouter(assert_all_mocked=True, assert_all_called=False)
    route = router.post(f"{BASE_URL}/chat/completions").mock(
        side_effect=lambda request: httpx.Response(200, json=scripted_llm(json.loads(request.content)))
    )
    os.environ["OPENAI_COMPATIBLE_API_KEY"] = RECORDING_KEY
    options = RunOptions(mode="record", http_transport=RespxHttpx2Transport(router), concurrency=1)
    async with ScenarioRunner(options) as runner:
        outcomes = await runner.run(scenarios)
    from rich.console import Console

    print_summary(
        Report(outcomes=outcomes, mode="record", duration_s=sum(o.duration_ms for o in outcomes) / 1000),
        Console(stderr=True),
    )
    leaked = [o.cassette for o in outcomes if o.cassette and _contains(Path(o.cassette), RECORDING_KEY)]
    print(
        f"{route.call_count} requests to the mock server; cassettes: {sum(bool(o.cassette) for o in outcomes)};"
        f" key leaked into: {leaked or 'none'}",
        file=sys.stderr,
    )
    return 1 if leaked or any(o.status != "passed" for o in outcomes) else 0


if __name__ == "__main__":
    targets = [Path(p) for p in sys.argv[1:]] or [HERE / "replay.yaml"]
    raise SystemExit(asyncio.run(record(targets)))
