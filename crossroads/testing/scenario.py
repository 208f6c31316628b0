"""The scenario file format and its loader.

A scenario file is YAML in promptfoo's shape: an optional `description`, optional `defaults` (merged
into every test, like promptfoo's `defaultTest`) and a `tests:` list. Files are validated scenario by
scenario, so one malformed scenario is reported with its file, id and field while the others still run.

```yaml
description: Cloud questions
defaults:
  assert: [{type: latency, threshold: 20000}]
tests:
  - id: cloud-hpa
    question: How do I autoscale pods on Kubernetes with the HPA?
    tags: [smoke]
    assert:
      - {type: route, value: {primary: cloud-infra}}
      - {type: icontains, value: autoscal}
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossroads.config.settings import LimitsSettings, RouterSettings, SandboxSettings
from crossroads.errors import ConfigError

SCENARIO_SUFFIXES = (".yaml", ".yml")
CASSETTE_DIR_SUFFIX = ".cassettes"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"

KNOWN_TYPES = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "icontains-any",
        "contains-all",
        "icontains-all",
        "starts-with",
        "regex",
        "is-json",
        "length",
        "llm-rubric",
        "latency",
        "cost",
        "tokens",
        "max-requests",
        "trajectory:tool-used",
        "trajectory:tool-args-match",
        "trajectory:tool-result-match",
        "trajectory:tool-sequence",
        "route",
        "handoff-path",
        "error",
        "status",
    }
)
"""Assertion types (each may take the `not-` prefix); `assertions.CHECKS` implements exactly these."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Assertion(_Strict):
    """One expectation, promptfoo style: `{type, value, threshold}`; `not-<type>` negates it."""

    type: str
    value: Any = None
    threshold: float | None = None
    description: str = ""

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type.removeprefix("not-")

    @model_validator(mode="after")
    def _known_and_well_formed(self) -> Assertion:
        if self.base_type not in KNOWN_TYPES:
            close = [t for t in sorted(KNOWN_TYPES) if t.split(":")[-1][:4] in self.base_type] or sorted(KNOWN_TYPES)
            raise ValueError(f"unknown assertion type '{self.type}'; known: {', '.join(close)}")
        from crossroads.testing.assertions import check_shape

        check_shape(self)
        return self


class Turn(_Strict):
    """One earlier turn of a scenario's conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class ScenarioConfig(_Strict):
    """Per-scenario overrides of the orchestrator's settings; paths are relative to the scenario file."""

    model: str | None = None
    models: dict[str, str] | None = None
    fallback: list[str] | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0, le=10)
    cards: list[Path] | None = None
    builtin_cards: bool | None = None
    """False: the scenario's `cards` folders are the whole team (`--no-builtin`)."""
    graph: Path | None = None
    limits: dict[str, Any] | None = None
    router: dict[str, Any] | None = None
    sandbox: dict[str, Any] | None = None

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _section(LimitsSettings, value)

    @field_validator("router")
    @classmethod
    def _router(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _section(RouterSettings, value)

    @field_validator("sandbox")
    @classmethod
    def _sandbox(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _section(SandboxSettings, value)

    def resolved(self, base: Path) -> ScenarioConfig:
        """The same overrides with relative paths made absolute against `base` (the file's directory)."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        data = self.model_dump(exclude_none=True)
        if self.cards:
            data["cards"] = [fix(p) for p in self.cards]
        if self.graph:
            data["graph"] = fix(self.graph)
        if self.router and self.router.get("examples"):
            data["router"] = {**self.router, "examples": [fix(Path(p)) for p in self.router["examples"]]}
        if self.sandbox and self.sandbox.get("runtime"):
            data["sandbox"] = {**self.sandbox, "runtime": fix(Path(self.sandbox["runtime"]))}
        return ScenarioConfig.model_validate(data)

    def overrides(self) -> dict[str, Any]:
        """Settings keyword overrides (only what the scenario set)."""
        return self.model_dump(exclude_none=True, mode="json")


def _section(model: type[BaseModel], value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    model.model_validate(value)  # unknown keys and bad values fail here, with the key in the location
    return dict(value)


class Defaults(_Strict):
    """Merged into every test of the file (promptfoo's `defaultTest`)."""

    tags: list[str] = Field(default_factory=list)
    vars: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = None
    config: ScenarioConfig = Field(default_factory=lambda: ScenarioConfig())
    assertions: list[Assertion] = Field(default_factory=list, alias="assert")
    metadata: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    """One test: a question (or short conversation), optional overrides, and its expectations."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    question: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    conversation: list[Turn] | None = Field(None, min_length=1, max_length=12)
    agent: str | None = None
    """Ask this specialist directly, bypassing routing."""
    config: ScenarioConfig = Field(default_factory=lambda: ScenarioConfig())
    assertions: list[Assertion] = Field(default_factory=list, alias="assert", min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    skip: str | None = None
    """A reason to skip this scenario."""
    file: Path = Path("<string>")
    index: int = 0

    @model_validator(mode="after")
    def _one_question(self) -> Scenario:
        given = [
            n
            for n, v in (
                ("question", self.question),
                ("vars.question", self.vars.get("question")),
                ("conversation", self.conversation),
            )
            if v
        ]
        if len(given) != 1:
            what = "none" if not given else " and ".join(given)
            raise ValueError(f"question: give exactly one of question, vars.question or conversation (got {what})")
        if self.conversation and self.conversation[-1].role != "user":
            raise ValueError("conversation: the last turn must be the user's question")
        return self

    @property
    def prompt(self) -> str:
        """The text sent to `Orchestrator.ask`: the question, or the conversation with the last turn last."""
        if self.conversation:
            *earlier, last = self.conversation
            if not earlier:
                return last.content
            context = "\n".join(f"{t.role}: {t.content}" for t in earlier)
            return f"Earlier in this conversation:\n{context}\n\n{last.content}"
        return str(self.question or self.vars["question"])

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.id}"


class LoadError(ConfigError):
    """A scenario file (or one scenario in it) that does not parse; names the file, scenario and field."""

    def __init__(
        self, file: Path | str, message: str, *, scenario: str | None = None, field: str | None = None
    ) -> None:
        self.file = str(file)
        self.scenario = scenario
        self.field = field
        where = self.file + (f": scenario '{scenario}'" if scenario else "") + (f": field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


def _loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_errors(exc: ValidationError, file: Path, scenario: str | None, prefix: str) -> list[LoadError]:
    errors = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after"))]
        msg = err["msg"].removeprefix("Value error, ")
        named = re.match(r"^([a-z_.]+): (.*)$", msg, re.DOTALL)
        if not loc and named:  # a whole-scenario check names its field as "field: message"
            loc, msg = [named.group(1)], named.group(2)
        field = _loc([*([prefix] if prefix else []), *loc]) or None
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        errors.append(LoadError(file, msg, scenario=scenario, field=field))
    return errors


def looks_like_scenario_file(path: Path) -> bool:
    """A YAML file with a top-level `tests:` key (cheap text check; the loader validates properly)."""
    if path.suffix not in SCENARIO_SUFFIXES or not path.is_file():
        return False
    if any(part.endswith(CASSETTE_DIR_SUFFIX) for part in path.parts):
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return False
    return re.search(r"^tests\s*:", head, re.MULTILINE) is not None


def load_file(path: Path | str) -> tuple[list[Scenario], list[LoadError]]:
    """Every valid scenario of one file, and an error for each invalid one (or for the whole file)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [LoadError(path, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        return [], [LoadError(path, f"not a scenario file (not UTF-8 text: bad byte at offset {exc.start})")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return [], [LoadError(path, f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")]
    if not isinstance(data, dict):
        return [], [LoadError(path, "expected a mapping with a 'tests:' list at the top level")]
    unknown = sorted(set(data) - {"description", "defaults", "defaultTest", "tests"})
    if unknown:
        return [], [LoadError(path, "unknown top-level key", field=unknown[0])]
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        return [], [LoadError(path, "must be a non-empty list of scenarios", field="tests")]
    try:
        defaults = Defaults.model_validate(data.get("defaults") or data.get("defaultTest") or {})
    except ValidationError as exc:
        return [], _validation_errors(exc, path, None, "defaults")

    scenarios: list[Scenario] = []
    errors: list[LoadError] = []
    seen: set[str] = set()
    for i, raw in enumerate(tests):
        sid = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") is not None else f"tests[{i}]"
        if not isinstance(raw, dict):
            errors.append(LoadError(path, "each test must be a mapping", scenario=sid, field=f"tests[{i}]"))
            continue
        try:
            scenario = _merge(defaults, raw, path, i)
        except ValidationError as exc:
            errors.extend(_validation_errors(exc, path, sid, ""))
            continue
        if scenario.id in seen:
            errors.append(LoadError(path, "duplicate scenario id in this file", scenario=sid, field="id"))
            continue
        seen.add(scenario.id)
        scenarios.append(scenario)
    return scenarios, errors


def _merge(defaults: Defaults, raw: dict[str, Any], path: Path, index: int) -> Scenario:
    data = dict(raw)
    data["tags"] = [*defaults.tags, *[t for t in data.get("tags") or [] if t not in defaults.tags]]
    data["vars"] = {**defaults.vars, **(data.get("vars") or {})}
    if defaults.agent and "agent" not in data:
        data["agent"] = defaults.agent
    own_config = data.get("config") or {}
    if isinstance(own_config, dict):
        merged = defaults.config.model_dump(exclude_none=True)
        for key, value in own_config.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        data["config"] = merged
    own_asserts = data.get("assert") or []
    data["assert"] = [a.model_dump() for a in defaults.assertions] + (
        own_asserts if isinstance(own_asserts, list) else [own_asserts]
    )
    data["metadata"] = {**defaults.metadata, **(data.get("metadata") or {})}
    data["file"] = path
    data["index"] = index
    scenario = Scenario.model_validate(data)
    scenario.config = scenario.config.resolved(path.parent.resolve())
    return scenario


def scenario_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Scenario files under the given paths: named files as given, directories searched recursively."""
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if looks_like_scenario_file(child):
                    yield child
        else:
            yield p


def load_paths(paths: Iterable[Path | str]) -> tuple[list[Scenario], list[LoadError]]:
    """Load every scenario file under `paths`; a bad file never stops the others from loading."""
    scenarios: list[Scenario] = []
    errors: list[LoadError] = []
    for path in scenario_files(paths):
        if not path.exists():
            errors.append(LoadError(path, "no such file or directory"))
            continue
        found, bad = load_file(path)
        scenarios.extend(found)
        errors.extend(bad)
    return scenarios, errors
