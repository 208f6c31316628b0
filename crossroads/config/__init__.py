"""Settings: packaged defaults, a user config file, CROSSROADS_* environment variables and flags."""

from crossroads.config.settings import (
    ConversationSettings,
    LimitsSettings,
    RouterSettings,
    SandboxSettings,
    Settings,
    load_settings,
)

__all__ = [
    "ConversationSettings",
    "LimitsSettings",
    "RouterSettings",
    "SandboxSettings",
    "Settings",
    "load_settings",
]
