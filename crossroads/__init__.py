"""crossroads: route technical questions over a handoff graph to specialist agents with sandboxed tools.

Public names are imported lazily, so `import crossroads` (and fast commands such as `crossroads route`)
do not pay for the LLM stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # orchestration
    "Orchestrator": "crossroads.orchestrator",
    # results
    "AskResult": "crossroads.result",
    "RouteDecision": "crossroads.result",
    "RouteTarget": "crossroads.result",
    "ToolCallRecord": "crossroads.result",
    "ModelRequestRecord": "crossroads.result",
    "HandoffRecord": "crossroads.result",
    "SpecialistAnswer": "crossroads.result",
    "Usage": "crossroads.result",
    # configuration, cards and graph
    "Settings": "crossroads.config",
    "load_settings": "crossroads.config",
    "AgentCard": "crossroads.cards",
    "load_cards": "crossroads.cards",
    "ResultSummary": "crossroads.result",
    "StreamEvent": "crossroads.events",
    "StreamEventAdapter": "crossroads.events",
    "SandboxTools": "crossroads.tools.base",
    "HandoffGraph": "crossroads.graph",
    # errors
    "CrossroadsError": "crossroads.errors",
    "ConfigError": "crossroads.errors",
    "CardError": "crossroads.errors",
    "GraphError": "crossroads.errors",
    "InputError": "crossroads.errors",
    "RunError": "crossroads.errors",
    "LimitExceeded": "crossroads.errors",
    "HandoffError": "crossroads.errors",
    "ProviderError": "crossroads.errors",
    "ToolUnavailable": "crossroads.errors",
}

__all__ = [
    "AgentCard",
    "AskResult",
    "CardError",
    "ConfigError",
    "CrossroadsError",
    "GraphError",
    "HandoffError",
    "HandoffGraph",
    "HandoffRecord",
    "InputError",
    "LimitExceeded",
    "ModelRequestRecord",
    "Orchestrator",
    "ProviderError",
    "ResultSummary",
    "RouteDecision",
    "RouteTarget",
    "RunError",
    "SandboxTools",
    "Settings",
    "SpecialistAnswer",
    "StreamEvent",
    "StreamEventAdapter",
    "ToolCallRecord",
    "ToolUnavailable",
    "Usage",
    "load_cards",
    "load_settings",
]

if TYPE_CHECKING:
    from crossroads.cards import AgentCard, load_cards
    from crossroads.config import Settings, load_settings
    from crossroads.errors import (
        CardError,
        ConfigError,
        CrossroadsError,
        GraphError,
        HandoffError,
        InputError,
        LimitExceeded,
        ProviderError,
        RunError,
        ToolUnavailable,
    )
    from crossroads.events import StreamEvent, StreamEventAdapter
    from crossroads.graph import HandoffGraph
    from crossroads.orchestrator import Orchestrator
    from crossroads.result import (
        AskResult,
        HandoffRecord,
        ModelRequestRecord,
        ResultSummary,
        RouteDecision,
        RouteTarget,
        SpecialistAnswer,
        ToolCallRecord,
        Usage,
    )
    from crossroads.tools.base import SandboxTools


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crossroads' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
