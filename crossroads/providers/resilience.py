"""Retries and fallback for each model request, not for the whole run.

A whole-run retry would re-execute every tool the run had already called, so failures are handled where
they happen: a capability on every agent catches the failed attempt, waits (exponential backoff with
jitter, or what `Retry-After` asks for) and tries the same model again; when the retries are spent, or the
error is not worth retrying, it moves to the next model of the fallback chain. Every failed attempt is
recorded on the run's deps (`pending_attempts`), which the trace attaches to the request that finally
succeeds, and logged (without keys: only model names, statuses and error classes).

The SDKs' own hidden retries are off (`max_retries=0` on every model), so this is the only retry layer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import anyio
import structlog
from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestTimeout,
    ModelServerError,
    ModelUnavailableError,
    RetryModelRequest,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model, ModelRequestContext
from tenacity import wait_exponential_jitter

from crossroads.errors import ProviderError
from crossroads.providers.http import too_large_in
from crossroads.redact import redact
from crossroads.result import ModelAttempt
from crossroads.trace import traced

log = structlog.get_logger("crossroads.providers")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 529})
"""HTTP statuses worth retrying: rate limits, server errors, overload (529 is Anthropic's). 400, 401, 403,
404 and 422 are not: the same request will fail the same way (the fallback chain may still help)."""
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying one model request on the same model."""

    retries: int = 3
    """Retries per model of the chain (so up to `retries + 1` attempts each)."""
    multiplier: float = 0.5
    max_backoff: float = 20.0
    jitter: float = 1.0
    max_retry_after: float = 30.0
    """A `Retry-After` longer than this is not waited for: the next model of the chain is tried instead."""
    sleep: Sleep = anyio.sleep
    """Injectable so tests wait zero seconds (and can assert the waits they were asked for)."""

    def backoff(self, retry: int) -> float:
        """Tenacity's exponential backoff with jitter for the `retry`-th retry (1-based)."""
        wait = wait_exponential_jitter(multiplier=self.multiplier, max=self.max_backoff, jitter=self.jitter)
        return float(wait(SimpleNamespace(attempt_number=retry)))  # type: ignore[arg-type]

    def wait_for(self, error: BaseException, retry: int) -> float:
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return float(retry_after)
        return self.backoff(retry)


def status_of(error: BaseException) -> int | None:
    return error.status_code if isinstance(error, ModelHTTPError) else None


def is_retryable(error: BaseException) -> bool:
    """Transient provider failures and malformed responses; never client errors such as 400 or 401."""
    status = status_of(error)
    if status is not None:
        return status in RETRY_STATUS
    if isinstance(
        error,
        ModelRateLimitError | ModelServerError | ModelUnavailableError | ModelConnectionError | ModelRequestTimeout,
    ):
        return True  # includes timeouts (ModelTimeoutError) and errors raised mid-stream
    if isinstance(error, ModelAPIError):
        # No status: the body could not be decoded ("Failed to decode response as JSON").
        return isinstance(error.__cause__, json.JSONDecodeError | ValueError) or "decode" in str(error).lower()
    # A body that parsed but lacks required fields surfaces as UnexpectedModelBehavior or as a TypeError /
    # KeyError deep in the SDK's response mapping: the next attempt usually gets a well-formed one.
    return is_malformed(error)


def is_malformed(error: BaseException) -> bool:
    return isinstance(
        error, UnexpectedModelBehavior | TypeError | KeyError | AttributeError | ValueError
    ) and not isinstance(error, ModelAPIError)


def describe(error: BaseException) -> str:
    """One line for traces and logs: the error class and the provider's message (bodies cut short).

    The message is redacted of key-shaped secrets first: a provider's error body may echo the key it got.
    """
    status = status_of(error)
    text = redact(str(error)[:4000].replace("\n", " "))
    too_large = too_large_in(error)  # some SDKs report it as a bare "Connection error."
    if too_large is not None and str(too_large) not in text:
        text = f"{text[:150]} ({too_large})"
    text = text[:300]
    return f"{type(error).__name__}" + (f" ({status})" if status else "") + (f": {text}" if text else "")


def model_label(model: Model) -> str:
    system = getattr(model, "system", None)
    name = model.model_name
    return f"{system}:{name}" if system and not name.startswith(f"{system}:") else name


@dataclass
class ResilientRequests(AbstractCapability[Any]):
    """Per-request retries with backoff, then the fallback chain; one fresh instance per run (`for_run`)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    fallbacks: Sequence[Model] = ()
    role: str = ""
    _next_fallback: int = 0
    _retries_here: int = 0

    async def for_run(self, ctx: RunContext[Any]) -> ResilientRequests:
        return ResilientRequests(policy=self.policy, fallbacks=self.fallbacks, role=self.role)

    async def on_model_request_error(
        self, ctx: RunContext[Any], *, request_context: ModelRequestContext, error: Exception
    ) -> ModelResponse:
        if request_context.attempt == 1:  # a new request step starts on the configured model
            self._next_fallback, self._retries_here = 0, 0
        model = model_label(request_context.model)
        retryable = is_retryable(error)
        wait = self.policy.wait_for(error, self._retries_here + 1) if retryable else 0.0
        if retryable and self._retries_here < self.policy.retries and wait <= self.policy.max_retry_after:
            self._retries_here += 1
            self._record(ctx, model, error, wait, f"retry {self._retries_here}/{self.policy.retries}")
            await self.policy.sleep(wait)
            raise RetryModelRequest()
        if self._next_fallback < len(self.fallbacks):
            target = self.fallbacks[self._next_fallback]
            self._next_fallback += 1
            self._retries_here = 0
            self._record(ctx, model, error, 0.0, f"fallback to {model_label(target)}")
            raise RetryModelRequest(target)
        self._record(ctx, model, error, 0.0, "giving up")
        if isinstance(error, ModelAPIError):
            raise error
        raise ProviderError(f"malformed response from {model}: {describe(error)}") from error

    def _record(self, ctx: RunContext[Any], model: str, error: BaseException, wait: float, action: str) -> None:
        attempt = ModelAttempt(model=model, error=describe(error), status=status_of(error), wait_s=round(wait, 3))
        deps = traced(ctx)
        if deps is not None:
            deps.pending_attempts.append(attempt)
        agent = getattr(deps, "agent", None) or self.role
        log.warning(
            "model.attempt_failed",
            agent=agent,
            model=model,
            status=attempt.status,
            error=type(error).__name__,
            wait_s=attempt.wait_s,
            action=action,
        )
