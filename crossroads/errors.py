"""Every error crossroads raises, rooted in one class so callers can catch it at any level.

CrossroadsError
├── ConfigError            a developer or configuration mistake: exit code 2, HTTP 4xx
│   ├── CardError          an agent card that does not parse (names the file and the field)
│   ├── GraphError         a handoff graph that does not validate
│   └── InputError         a question or other input that cannot be processed
└── RunError               a failure while answering: exit code 1; `.partial` is the trace so far
    ├── LimitExceeded      a per-ask limit (requests, tokens, wall time, hops) was hit; `.limit` names it
    ├── HandoffError       a handoff that the graph does not allow
    ├── ProviderError      a model provider failed after retries and fallbacks
    └── ToolUnavailable    code execution is unavailable (no safe sandbox tier)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from crossroads.result import AskResult

Limit = Literal["max_requests", "max_tokens", "max_hops", "timeout"]
"""The per-ask limits (`settings.limits` and the ask's wall time `settings.timeout`)."""


class CrossroadsError(Exception):
    """Base class for every error raised by crossroads."""


class ConfigError(CrossroadsError):
    """A mistake in configuration, cards, graph or input: fix the input, retrying will not help."""


class CardError(ConfigError):
    """An agent card that cannot be loaded."""

    def __init__(self, path: str, message: str, *, field: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.field = field
        self.line = line
        where = f"{path}:{line}" if line else path
        where = f"{where}: field '{field}'" if field else where
        self.message = message
        super().__init__(f"{where}: {message}")


class GraphError(ConfigError):
    """A handoff graph that does not validate."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class InputError(ConfigError):
    """A question (or other user input) that cannot be processed as given."""


class RunError(CrossroadsError):
    """A failure while answering. `partial` holds the result gathered before the failure, if any."""

    def __init__(self, message: str, *, partial: AskResult | None = None) -> None:
        self.partial = partial
        super().__init__(message)


class LimitExceeded(RunError):
    """A per-ask limit was exceeded; `limit` names it and `detail` says by how much."""

    def __init__(self, limit: Limit, detail: str, *, partial: AskResult | None = None) -> None:
        self.limit: Limit = limit
        self.detail = detail
        super().__init__(f"limit '{limit}' exceeded: {detail}", partial=partial)


class HandoffError(RunError):
    """A handoff the graph does not allow (unknown neighbour, revisit)."""


class ProviderError(RunError):
    """A model provider failed after every retry and fallback."""


class ToolUnavailable(RunError):
    """Code execution is unavailable because no safe sandbox tier exists here."""


RUN_ERRORS: dict[str, type[RunError]] = {
    cls.__name__: cls for cls in (RunError, HandoffError, ProviderError, ToolUnavailable)
}
"""Run errors that take a message, by class name, to rebuild one from a stream's error event
(`LimitExceeded` is rebuilt from its `limit`)."""
