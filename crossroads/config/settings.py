"""Typed settings with a fixed precedence: flags > environment > user config file > packaged defaults.

API keys never live here: providers read them from the environment when they are built, so a settings
dump or a log line cannot leak one.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_path, user_data_path
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from crossroads.errors import ConfigError

PACKAGED_DEFAULTS = Path(__file__).resolve().parent / "defaults.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsSettings(_Section):
    """Per-ask limits: model requests, tokens, handoff hops and question length."""

    max_requests: int = Field(default=60, ge=1)
    max_tokens: int = Field(default=400_000, ge=1)
    max_hops: int = Field(default=3, ge=0)
    max_question_chars: int = Field(default=20_000, ge=1)


class RouterSettings(_Section):
    """How the router decides: mode, thresholds and the cascade's escalation cut."""

    mode: Literal["local", "llm", "cascade"] = "cascade"
    threshold: float = Field(default=0.45, ge=0, le=1)
    margin: float = Field(default=0.65, ge=0, le=1)
    max_targets: int = Field(default=3, ge=1)
    cascade_confidence: float = Field(default=0.55, ge=0, le=1)
    cascade_margin: float = Field(default=0.08, ge=0, le=1)
    split_confidence: float = Field(default=0.6, ge=0, le=1)
    """A sentence this confidently another specialist's adds that specialist (multi-part questions)."""
    off_topic_abstain: float = Field(default=0.15, ge=0, le=1)
    """Below `threshold`, abstain only when the off-topic confidence reaches this (0: always abstain)."""
    examples: list[Path] = Field(default_factory=list)
    """Extra labelled example files (JSONL) the local classifier learns from."""
    semantic: Literal["off", "static", "minilm", "auto"] = "static"
    """Sentence embeddings blended into the local classifier: `static` (a distilled token table, in
    every install), `minilm` (the full all-MiniLM-L6-v2, needs the `embed` extra), `auto` (minilm when
    the extra is installed, else static), `off` (lexical only)."""


class ConversationSettings(_Section):
    """Follow-up routing and how much of a conversation's history the specialists receive."""

    history_tokens: int = Field(2000, ge=0, le=200_000)
    """Budget of earlier turns sent with a follow-up (about 4 characters a token); older turns beyond
    it are summarised, or dropped once the summary is full. 0 sends no history."""
    summary_tokens: int = Field(300, ge=0, le=20_000)
    """Part of `history_tokens` the extractive summary of older turns may use (0: drop them instead)."""
    short_follow_up_words: int = Field(12, ge=0, le=200)
    """A follow-up of at most this many words stays with the previous turn's specialists unless it
    clearly changes topic; a longer one is routed together with the previous question."""
    switch_confidence: float = Field(0.7, ge=0, le=1)
    """The follow-up alone 'clearly changes topic' when the router picks a specialist the previous turn
    did not use with at least this confidence."""
    max_turns: int = Field(200, ge=2, le=100_000)
    """Turns kept per conversation (user and assistant turns count separately); a longer one is refused."""


class SandboxSettings(_Section):
    """Limits of every snippet run in the sandbox, and the size of the warm pool."""

    timeout: float = Field(default=5.0, gt=0, le=300)
    memory_mb: int = Field(default=512, ge=64)
    pool_size: int = Field(default=2, ge=0, le=16)
    runtime: Path | None = None
    """The snippet runtime (a venv); default: $CROSSROADS_HOME/sandbox-runtime or /opt/crossroads/sandbox."""


class ServerSettings(_Section):
    """`crossroads serve`. Accepted client keys also come from `CROSSROADS_API_KEYS` (comma-separated)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    api_keys: list[SecretStr] = Field(default_factory=list)
    """Bearer keys clients must send; none configured means the server only binds to loopback."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    rate_limit_per_minute: int = Field(default=600, ge=0)
    """Requests per key in any 60 seconds (a sliding window; shared by replicas with `redis_url`); 0 turns it off."""
    max_concurrent_per_key: int = Field(default=64, ge=0)
    """Requests one key may have in flight; 0 turns it off."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed by CORS; empty (the default) sends no CORS headers at all."""
    ui: bool = True
    """Serve the web page at `/ui/` (ask, watch the route, read traces); `crossroads serve --no-ui` turns it off."""
    header_timeout: float = Field(default=10.0, gt=0, le=600)
    """Seconds a client has to send a request's headers (from connecting, or from the request's first
    byte on a kept-alive connection); then 408 and the connection is closed."""
    body_timeout: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a client has to send a request's whole body once its headers arrived; then 408."""
    keep_alive_timeout: int = Field(default=5, ge=1, le=600)
    """Seconds an idle kept-alive connection stays open (uvicorn's timeout_keep_alive)."""
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    """Largest request head (request line and headers) buffered while incomplete; more is a 400 at once
    (uvicorn's `h11_max_incomplete_event_size`)."""
    redis_url: str | None = None
    """Redis shared by every worker and replica for the per-key limits (`redis://host:6379/0`, extra
    `crossroads[redis]`); unset: each process counts on its own."""
    redis_failure: Literal["open", "closed"] = "open"
    """When Redis cannot be reached: `open` falls back to this process's own limits, `closed` answers 503."""
    redis_timeout: float = Field(default=2.0, gt=0, le=30)
    """Seconds one Redis call may take before it counts as unreachable."""


class McpSettings(_Section):
    """MCP servers that cards bring (`mcpServers`): where named servers are defined, and how long to wait."""

    config: list[Path] = Field(default_factory=list)
    """`mcpServers` JSON files (Claude Code's `.mcp.json` format, `${VAR}` expanded) that cards name servers
    from; each cards folder's own `.mcp.json` (and `<project>/.mcp.json` of a `.claude/agents` folder) too."""
    start_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds for a server to start and list its tools (an `npx` server may download on first start)."""
    call_timeout: float = Field(default=60.0, gt=0, le=3600)
    """Seconds for one MCP tool call; a slower call fails as a tool error the model sees."""


DEFAULT_MODEL_ALIASES = {
    "sonnet": "anthropic:claude-sonnet-5-5",
    "opus": "anthropic:claude-opus-5-5",
    "haiku": "anthropic:claude-haiku-5-5",
}
"""Claude Code's `model:` aliases, as crossroads model specs (`model_aliases` in the config file)."""


class Settings(BaseSettings):
    """All settings of one orchestrator."""

    model_config = SettingsConfigDict(env_prefix="CROSSROADS_", env_nested_delimiter="__", extra="forbid")

    model: str = "offline"
    """Default model for every role: offline | anthropic:<m> | openai:<m> | openai-compatible:<m>."""
    models: dict[str, str] = Field(default_factory=dict)
    """Per-role overrides: `router`, `synthesizer` or a specialist's name."""
    fallback: list[str] = Field(default_factory=list)
    """Models tried in order when the configured one fails after its retries."""
    base_url: str | None = None
    api_key_env: str = "OPENAI_COMPATIBLE_API_KEY"
    """Environment variable holding the key of an openai-compatible server (optional for local ones)."""
    timeout: float = Field(default=120.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    max_response_bytes: int = Field(default=8_000_000, ge=1024)
    """Largest provider response body read; a larger one is an error (retried, then the fallback)."""
    cards: list[Path] = Field(default_factory=list)
    """Directories of extra or overriding agent cards."""
    builtin_cards: bool = True
    """Load the packaged specialists; false (`--no-builtin`) makes the `cards` folders the whole team."""
    strict_cards: bool = False
    """Refuse (exit 2) a card folder with any warning or skipped file, and a card model that falls back (`--strict`)."""
    model_aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODEL_ALIASES))
    """A card's `model:` alias -> model spec; `inherit` always means the role's configured model."""
    mcp: McpSettings = Field(default_factory=McpSettings)
    graph: Path | None = None
    trace_db: str | None = None
    """Trace store: a SQLite file (default under the user's data dir), `sqlite:///path`,
    `postgresql://user@host:5432/db` (shared by replicas; extra `crossroads[postgres]`), or `off`."""
    trace_max_bytes: int = Field(default=1_000_000, ge=0)
    """Bound of one stored trace: longer strings are cut with a marker until it fits (0: unbounded)."""
    trace_commit: Literal["before_reply", "background"] = "before_reply"
    """`before_reply`: the server sends an answer's last byte only once its trace is committed (a
    crashed replica loses nothing it answered); `background`: traces are committed just after."""
    trace_pool_size: int = Field(default=4, ge=1, le=64)
    """PostgreSQL connections per process (the writer and the readers share them)."""
    otel_endpoint: str | None = None
    """OTLP/HTTP collector to export OpenTelemetry spans to (needs the `otel` extra); unset: no export."""
    otel_include_content: bool = True
    """Whether exported spans carry prompts, answers and tool arguments (turn off for sensitive data)."""
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    limits: LimitsSettings = Field(default_factory=lambda: LimitsSettings.model_validate({}))
    router: RouterSettings = Field(default_factory=lambda: RouterSettings.model_validate({}))
    conversation: ConversationSettings = Field(default_factory=lambda: ConversationSettings.model_validate({}))
    sandbox: SandboxSettings = Field(default_factory=lambda: SandboxSettings.model_validate({}))
    server: ServerSettings = Field(default_factory=lambda: ServerSettings.model_validate({}))

    @field_validator("trace_db", mode="before")
    @classmethod
    def _trace_db_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileLayers(settings_cls))

    def trace_db_target(self) -> str | None:
        """The trace store to open (a path or a URL), or None when it is `off`."""
        if self.trace_db == "off":
            return None
        return self.trace_db or str(user_data_path("crossroads") / "traces.sqlite3")

    def trace_db_path(self) -> Path | None:
        """The SQLite file traces are stored in; None when the store is `off` or not SQLite."""
        target = self.trace_db_target()
        return sqlite_path(target) if target is not None else None


def sqlite_path(target: str | Path) -> Path | None:
    """The file of a SQLite trace store target (a plain path or `sqlite:///path`), None for other URLs."""
    if isinstance(target, Path):
        return target.expanduser()
    if target.startswith("sqlite://"):
        return Path(target.removeprefix("sqlite://")).expanduser()
    if "://" in target:
        return None
    return Path(target).expanduser()


_file_layers: ContextVar[tuple[dict[str, Any], ...]] = ContextVar("crossroads_file_layers", default=())


class _FileLayers(PydanticBaseSettingsSource):
    """Packaged defaults overlaid by the user's config file, both TOML."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in _file_layers.get():
            merged = _deep_merge(merged, layer)
        return merged


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes itself: a binary file ends here
        raise ConfigError(f"{path}: not a TOML file (not UTF-8 text: bad byte at offset {exc.start})") from None


def _env_error(exc: SettingsError) -> ConfigError:
    """A one-line error naming the environment variable whose value could not be parsed, and the fix.

    pydantic-settings reads list and section settings from the environment as JSON, and reports a
    value that is not as `SettingsError: error parsing value for field "cards" ...`.
    """
    found = re.search(r'field "([^"]+)"', str(exc))
    name = found.group(1) if found else ""
    variable = f"CROSSROADS_{name.upper()}" if name else "a CROSSROADS_* variable"
    field = Settings.model_fields.get(name)
    annotation = field.annotation if field is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        keys = list(annotation.model_fields)
        example = f"{variable}__{keys[0].upper()}=..." if keys else f"{variable}__<KEY>=..."
        hint = f"'{name}' is a section: set its keys one by one ({example}) or give it as a JSON object"
    elif name:
        hint = f"'{name}' is a list or mapping: give it as JSON, e.g. {variable}='[\"...\"]'"
    else:
        hint = str(exc)
    return ConfigError(f"environment variable {variable}: not a valid value; {hint}")


def default_config_file() -> Path:
    return user_config_path("crossroads") / "config.toml"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from every layer. `overrides` are flags the user set (None values are ignored).

    The user file is `config_file`, else $CROSSROADS_CONFIG, else the platform's config dir
    (`~/.config/crossroads/config.toml`); a missing default file is fine, a missing named one is not.
    """
    layers = [_read_toml(PACKAGED_DEFAULTS)]
    named = config_file or os.environ.get("CROSSROADS_CONFIG")
    user_file = Path(named) if named else default_config_file()
    if named or user_file.is_file():
        layers.append(_read_toml(user_file))
    token = _file_layers.set(tuple(layers))
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise _env_error(exc) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = f" (config file {user_file})" if named or user_file.is_file() else ""
        raise ConfigError(f"invalid setting '{where}'{source}: {err['msg']}") from None
    finally:
        _file_layers.reset(token)
