"""Settings: packaged defaults, a user config file, CROSSROADS_* environment variables and flags."""

from crossroads.config.settings import (
    DEFAULT_MODEL_ALIASES,
    ConversationSettings,
    LimitsSettings,
    McpSettings,
    RouterSettings,
    SandboxSettings,
    Settings,
    load_settings,
)

__all__ = [
    "DEFAULT_MODEL_ALIASES",
    "ConversationSettings",
    "LimitsSettings",
    "McpSettings",
    "RouterSettings",
    "SandboxSettings",
    "Settings",
    "load_settings",
]
