"""Model providers: which model serves each role, the shared HTTP client, and per-request retries and fallback.

`ModelFactory` (`providers.factory`) is the entry point; the orchestrator builds one per instance.
`providers.specs` is pure (parsing and checking model specs without importing the LLM stack), so
exports are loaded lazily.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossroads.providers.factory import ModelFactory
    from crossroads.providers.resilience import ResilientRequests, RetryPolicy
    from crossroads.providers.specs import KEY_ENV, OFFLINE, ModelSpec, parse_spec

_EXPORTS = {
    "ModelFactory": "crossroads.providers.factory",
    "ResilientRequests": "crossroads.providers.resilience",
    "RetryPolicy": "crossroads.providers.resilience",
    "KEY_ENV": "crossroads.providers.specs",
    "OFFLINE": "crossroads.providers.specs",
    "ModelSpec": "crossroads.providers.specs",
    "parse_spec": "crossroads.providers.specs",
}
__all__ = ["KEY_ENV", "OFFLINE", "ModelFactory", "ModelSpec", "ResilientRequests", "RetryPolicy", "parse_spec"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crossroads.providers' has no attribute {name!r}")
    return getattr(import_module(module), name)
