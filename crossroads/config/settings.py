"""Typed settings with a fixed precedence: flags > environment > user config file > packaged defaults.

API keys never live here: providers read them from the environment when they are built, so a settings
dump or a log line cannot leak one.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_path, user_data_path
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from crossroads.errors import ConfigError

PACKAGED_DEFAULTS = Path(__file__).resolve().parent / "defaults.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsSettings(_Section):
    """Per-ask limits: model requests, tokens, handoff hops and question length."""

    max_requests: int = Field(60, ge=1)
    max_tokens: int = Field(400_000, ge=1)
    max_hops: int = Field(3, ge=0)
    max_question_chars: int = Field(20_000, ge=1)


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


class SandboxSettings(_Section):
    """Limits of every snippet run in the sandbox, and the size of the warm pool."""

    timeout: float = Field(5.0, gt=0, le=300)
    memory_mb: int = Field(512, ge=64)
    pool_size: int = Field(2, ge=0, le=16)
    runtime: Path | None = None
    """The snippet runtime (a venv); default: $CROSSROADS_HOME/sandbox-runtime or /opt/crossroads/sandbox."""


class ServerSettings(_Section):
    """`crossroads serve`. Accepted client keys also come from `CROSSROADS_API_KEYS` (comma-separated)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    api_keys: list[SecretStr] = Field(default_factory=list)
    """Bearer keys clients must send; none configured means the server only binds to loopback."""
    max_body_bytes: int = Field(1_000_000, ge=1024)
    rate_limit_per_minute: int = Field(600, ge=0)
    """Requests per key per minute (token bucket, burst of the same size); 0 turns it off."""
    max_concurrent_per_key: int = Field(64, ge=0)
    """Requests one key may have in flight; 0 turns it off."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed by CORS; empty (the default) sends no CORS headers at all."""


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
    timeout: float = Field(120.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    cards: list[Path] = Field(default_factory=list)
    """Directories of extra or overriding agent cards."""
    graph: Path | None = None
    trace_db: Literal["off"] | Path | None = None
    otel_endpoint: str | None = None
    """OTLP/HTTP collector to export OpenTelemetry spans to (needs the `otel` extra); unset: no export."""
    otel_include_content: bool = True
    """Whether exported spans carry prompts, answers and tool arguments (turn off for sensitive data)."""
    """SQLite file of stored traces; default under the user's data dir; `off` stores nothing."""
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

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

    def trace_db_path(self) -> Path | None:
        """Where traces are stored, or None when the trace store is `off`."""
        if self.trace_db == "off":
            return None
        return self.trace_db or user_data_path("crossroads") / "traces.sqlite3"


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
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = f" (config file {user_file})" if named or user_file.is_file() else ""
        raise ConfigError(f"invalid setting '{where}'{source}: {err['msg']}") from None
    finally:
        _file_layers.reset(token)
