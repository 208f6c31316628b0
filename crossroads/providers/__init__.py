"""Model providers: which model serves each role, the shared HTTP client, and per-request retries and fallback.

`ModelFactory` is the entry point; the orchestrator builds one per instance.
"""

from crossroads.providers.factory import ModelFactory
from crossroads.providers.resilience import ResilientRequests, RetryPolicy
from crossroads.providers.specs import KEY_ENV, OFFLINE, ModelSpec, parse_spec

__all__ = ["KEY_ENV", "OFFLINE", "ModelFactory", "ModelSpec", "ResilientRequests", "RetryPolicy", "parse_spec"]
