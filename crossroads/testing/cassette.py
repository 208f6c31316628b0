"""Record and replay model exchanges at the pydantic-ai `Model` interface (not HTTP).

`CassetteModel` wraps every model the orchestrator builds (through `ModelFactory`'s `model_wrapper`
hook). While a scenario runs, the `Cassette` active in its context decides what a request does:

- **record**: forward to the real model and store the exchange, keyed by the normalised request
  (messages, tools, settings, the role and the model name; no timestamps, ids, durations or headers);
- **replay**: serve the recorded response for the same key, offline and deterministically. A request
  with no recording **fails closed** with `CassetteMiss`, naming the scenario and the first difference
  from the closest recorded request; the real model is never called.

With no active cassette the wrapper is transparent. The embedded offline model is never wrapped: it
is deterministic already.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import CompletedStreamedResponse, Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from crossroads.errors import RunError

CASSETTE_VERSION = 1
Mode = Literal["record", "replay"]

_NOISE = frozenset(
    {
        "timestamp",
        "tool_call_id",
        "id",
        "run_id",
        "conversation_id",
        "provider_response_id",
        "provider_details",
        "provider_name",
        "provider_url",
        "usage",
        "model_id",
        "model_name",
        "history_digest",
        "failed_attempts",
        "workspace_ref",
        "canonical_system",
        "state",
        "finish_reason",
        "metadata",
    }
)
"""Message and part fields that differ between two runs of the same conversation."""
_RESULT_NOISE = frozenset({"duration_ms", "tier"})
"""Tool-result fields that depend on the machine, not on the request."""
_SECRET_SETTINGS = frozenset({"extra_headers", "extra_body", "extra_query", "api_key"})
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_KEY")

_active: ContextVar[Cassette | None] = ContextVar("crossroads_cassette", default=None)
_params_adapter: TypeAdapter[ModelRequestParameters] = TypeAdapter(ModelRequestParameters)


class CassetteMiss(RunError):
    """Replay found no recorded exchange for a request: the scenario or the code changed since recording."""


def _drop_noise(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _NOISE or v is None or v == [] or v == {}:
                continue
            if k in ("args", "content") and isinstance(v, dict):
                out[k] = {rk: rv for rk, rv in v.items() if rk not in _RESULT_NOISE}
            elif k in ("args", "content"):
                out[k] = v
            else:
                out[k] = _drop_noise(v)
        return out
    if isinstance(value, list):
        return [_drop_noise(v) for v in value]
    return value


def normalise_request(
    role: str,
    model_name: str,
    messages: list[ModelMessage],
    settings: ModelSettings | None,
    params: ModelRequestParameters,
) -> dict[str, Any]:
    """The parts of a request that decide the response, as plain JSON."""
    dumped = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    p = _params_adapter.dump_python(params, mode="json")
    tools = [
        {k: t.get(k) for k in ("name", "description", "parameters_json_schema") if t.get(k) is not None}
        for t in p.get("function_tools", [])
    ]
    outputs = [
        {k: t.get(k) for k in ("name", "description", "parameters_json_schema") if t.get(k) is not None}
        for t in p.get("output_tools", [])
    ]
    s = {k: v for k, v in dict(settings or {}).items() if k not in _SECRET_SETTINGS}
    return {
        "role": role,
        "model": model_name,
        "messages": _drop_noise(dumped),
        "tools": tools,
        "output_tools": outputs,
        "output_mode": p.get("output_mode"),
        "allow_text_output": p.get("allow_text_output"),
        "settings": json.loads(json.dumps(s, default=str)),
    }


def request_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def first_difference(recorded: Any, now: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ, as (path, recorded, now)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for k in [*recorded, *[k for k in now if k not in recorded]]:
            if k not in recorded or k not in now:
                return f"{path}.{k}".lstrip("."), recorded.get(k, "<absent>"), now.get(k, "<absent>")
            diff = first_difference(recorded[k], now[k], f"{path}.{k}")
            if diff:
                return diff
        return None
    if isinstance(recorded, list) and isinstance(now, list):
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff:
                return diff
        if len(recorded) != len(now):
            return f"{path} (length)".lstrip("."), len(recorded), len(now)
        return None
    return None if recorded == now else (path.lstrip(".") or "(request)", recorded, now)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _secrets() -> list[str]:
    return [v for k, v in os.environ.items() if k.upper().endswith(_SECRET_ENV_SUFFIXES) and len(v) >= 8]


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """Replace every secret found in the environment with a placeholder."""
    for secret in sorted(secrets if secrets is not None else _secrets(), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


@dataclass
class Interaction:
    """One recorded model request and its response."""

    key: str
    request: dict[str, Any]
    response: dict[str, Any]


@dataclass
class Cassette:
    """The recorded exchanges of one scenario, and what happened to them during this run."""

    path: Path
    scenario: str
    mode: Mode
    interactions: list[Interaction] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    _served: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, scenario: str) -> Cassette:
        """A replay cassette; a missing file replays nothing (every request is a miss)."""
        cassette = cls(path=path, scenario=scenario, mode="replay")
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            cassette.interactions = [Interaction(i["key"], i["request"], i["response"]) for i in data["interactions"]]
        return cassette

    def save(self) -> None:
        data = {
            "version": CASSETTE_VERSION,
            "scenario": self.scenario,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "interactions": [{"key": i.key, "request": i.request, "response": i.response} for i in self.interactions],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(scrub(json.dumps(data, indent=1, ensure_ascii=False)) + "\n", encoding="utf-8")

    @asynccontextmanager
    async def active(self) -> AsyncIterator[Cassette]:
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def record(self, request: dict[str, Any], response: ModelResponse) -> None:
        dumped = ModelMessagesTypeAdapter.dump_python([response], mode="json")[0]
        self.interactions.append(Interaction(request_key(request), request, json.loads(scrub(json.dumps(dumped)))))

    def replay(self, request: dict[str, Any]) -> ModelResponse:
        key = request_key(request)
        matches = [i for i in self.interactions if i.key == key]
        served = self._served.get(key, 0)
        if served < len(matches):
            self._served[key] = served + 1
            response = ModelMessagesTypeAdapter.validate_python([matches[served].response])[0]
            assert isinstance(response, ModelResponse)
            return response
        raise self._miss(request, repeated=bool(matches))

    def _miss(self, request: dict[str, Any], repeated: bool) -> CassetteMiss:
        where = f"cassette {self.path}"
        if repeated:
            why = "the request was recorded fewer times than it is made now"
        elif not self.interactions:
            missing = "" if self.path.is_file() else " (file missing; run with --record)"
            why = "the cassette has no recordings" + missing
        else:
            same_role = [i for i in self.interactions if i.request.get("role") == request["role"]] or self.interactions
            best = max(same_role, key=lambda i: _common_prefix(i.request.get("messages", []), request["messages"]))
            diff = first_difference(best.request, request)
            why = (
                "first difference from the closest recording at "
                f"{diff[0]}: recorded {_short(diff[1])}, now {_short(diff[2])}"
                if diff
                else "no difference found"
            )
        message = (
            f"replay: scenario '{self.scenario}': no recorded model response for this {request['role']} "
            f"request ({where}); {why}"
        )
        self.misses.append(message)
        return CassetteMiss(message)


def _common_prefix(a: list[Any], b: list[Any]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class CassetteModel(WrapperModel):
    """Routes each request through the scenario's active cassette (or straight through without one)."""

    def __init__(self, wrapped: Model, role: str) -> None:
        super().__init__(wrapped)
        self.role = role

    def _normalised(
        self, messages: list[ModelMessage], settings: ModelSettings | None, params: ModelRequestParameters
    ) -> dict[str, Any]:
        return normalise_request(self.role, self.wrapped.model_name, messages, settings, params)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        cassette = _active.get()
        if cassette is None:
            return await self.wrapped.request(messages, model_settings, model_request_parameters)
        normalised = self._normalised(messages, model_settings, model_request_parameters)
        if cassette.mode == "replay":
            return cassette.replay(normalised)
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        cassette.record(normalised, response)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        cassette = _active.get()
        if cassette is not None and cassette.mode == "replay":
            response = cassette.replay(self._normalised(messages, model_settings, model_request_parameters))
            yield CompletedStreamedResponse(
                response, model_request_parameters=model_request_parameters, replay_events=True
            )
            return
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        if cassette is not None:
            cassette.record(self._normalised(messages, model_settings, model_request_parameters), stream.get())


def cassette_wrapper(model: Model, role: str) -> Model:
    """The `model_wrapper` hook for `ModelFactory`/`Orchestrator`: wraps every model but the offline one."""
    if isinstance(model, FunctionModel):
        return model
    return CassetteModel(model, role)


def cassette_path(scenario_file: Path, scenario_id: str) -> Path:
    """`<dir>/<file stem>.cassettes/<scenario id>.json`, next to the scenario file."""
    return scenario_file.parent / f"{scenario_file.stem}.cassettes" / f"{scenario_id}.json"
