"""Secrets out of everything crossroads writes down: logs, traces and the stored rows built from them.

One place decides what a secret looks like, so the log pipeline (`crossroads.logs`) and the code that
turns provider errors into trace text (`providers.resilience.describe`, `trace.record_request`, the
orchestrator's failure strings) redact the same way. Two kinds of secret are removed:

- **Key-shaped text**, whoever it belongs to: `sk-...` / `sk-ant-...` / `sk-proj-...` keys, the token of
  `Bearer ...`, `api_key=...`-style query parameters, and a few other well-known key prefixes. A
  provider's error body can echo the key it was sent, and a caller's key can travel in an exception
  message.
- **Known secrets, literally**: the values of environment variables that hold keys (`*_API_KEY`,
  `*_API_KEYS`, `*_TOKEN`, `*_SECRET`, `CROSSROADS_API_KEYS` split at commas) and whatever
  `register_secrets()` was given (the server's configured client keys, the variable named by
  `api_key_env`). These catch keys of any shape, e.g. a local server's `changeme-1234`.

Redaction never raises and only ever shortens information: it is safe on any text, including text
that is already redacted.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

MIN_SECRET_CHARS = 8
"""Known secrets shorter than this are not redacted literally: a 3-letter "key" would eat ordinary words."""

_KEY_SHAPES = re.compile(
    r"""
      \bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{8,}      # OpenAI / Anthropic style keys
    | \bAIza[0-9A-Za-z_\-]{30,}                                   # Google API keys
    | \bgh[pousr]_[A-Za-z0-9]{20,}                                # GitHub tokens
    | \bxox[abprs]-[A-Za-z0-9\-]{10,}                             # Slack tokens
    """,
    re.VERBOSE,
)
_BEARER = re.compile(r"\b(Bearer|BEARER|bearer)(\s+)[A-Za-z0-9._~+/=\-]{8,}")
"""The token of an `Authorization: Bearer ...` value (8+ characters, so prose like "bearer of" survives)."""
_KEY_PARAMS = re.compile(
    r"(?i)\b(api[_-]?key|access[_-]?token|x-api-key|token|secret)([\"']?\s*[=:]\s*[\"']?)([^\s&\"',;}\]]{4,})"
)
"""`api_key=...`, `"token": "..."` and the like, as they appear in URLs, JSON bodies and headers."""

SENSITIVE_FIELDS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api_key", "apikey", "headers"}
)
"""Log fields whose value is dropped whole, whatever it looks like (HTTP headers carry the caller's key)."""

_SECRET_SUFFIXES = ("_API_KEY", "_API_KEYS", "_TOKEN", "_SECRET", "_SECRET_KEY")

_lock = threading.Lock()
_registered: set[str] = set()
_generation = 0
"""Bumped by `register_secrets`, so the cached pattern is rebuilt."""
_cache: tuple[tuple[object, ...], tuple[str, ...], int, re.Pattern[str] | None] = ((), (), -1, None)


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secrets to redact literally from now on (configured client keys, custom key variables)."""
    global _generation
    with _lock:
        _registered.update(v.strip() for v in values if v and len(v.strip()) >= MIN_SECRET_CHARS)
        _generation += 1


def register_env_secret(name: str | None) -> None:
    """Treat the value of environment variable `name` as a secret (e.g. settings.api_key_env)."""
    if name:
        register_secrets([os.environ.get(name)])


def _env_secrets(environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(secret values, names of the variables holding them) from the environment."""
    found: list[str] = []
    names: list[str] = []
    for name, value in environ.items():
        if not value or not name.upper().endswith(_SECRET_SUFFIXES):
            continue
        names.append(name)
        parts = value.split(",") if name.upper().endswith("_KEYS") else [value]
        found += [p.strip() for p in parts if len(p.strip()) >= MIN_SECRET_CHARS]
    return found, names


def _fingerprint(names: Iterable[str]) -> tuple[object, ...]:
    """A cheap stand-in for the environment's secrets: no scan, a length and a few lookups.

    It changes when a variable is added or removed or a secret-holding one changes, which is when the
    secrets are looked up again (removing one variable and adding another at once goes unnoticed until
    the next change; the key-shape patterns still apply meanwhile).
    """
    return (len(os.environ), *(os.environ.get(n) for n in names))


def _literal_pattern() -> re.Pattern[str] | None:
    """One alternation of every known secret, rebuilt only when the environment or registry changed."""
    global _cache
    fingerprint, names, generation, pattern = _cache
    if generation == _generation and fingerprint == _fingerprint(names):
        return pattern
    with _lock:
        registered, generation = set(_registered), _generation
    env_values, names = _env_secrets(os.environ)
    secrets = sorted({*env_values, *registered}, key=lambda s: (-len(s), s))
    pattern = re.compile("|".join(re.escape(s) for s in secrets)) if secrets else None
    _cache = (_fingerprint(names), tuple(names), generation, pattern)
    return pattern


def redact(text: str) -> str:
    """`text` with every key-shaped or known secret replaced by `[REDACTED]`."""
    return _redact(text, _literal_pattern()) if text else text


def _redact(text: str, literal: re.Pattern[str] | None) -> str:
    if literal is not None:
        text = literal.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _KEY_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _KEY_SHAPES.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """`redact` applied to every string inside dicts, lists and tuples; sensitive fields dropped whole."""
    return _redact_value(value, _literal_pattern())  # the known secrets are looked up once per value


def _redact_value(value: Any, literal: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return _redact(value, literal) if value else value
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and k.lower() in SENSITIVE_FIELDS else _redact_value(v, literal))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, literal) for v in value)
    return value
