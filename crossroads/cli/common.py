"""Helpers shared by commands that build an orchestrator from flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossroads.cli.app import log_overrides
from crossroads.config import Settings, load_settings
from crossroads.logs import configure_logging


def settings_from_flags(
    config: Path | None = None, cards: list[Path] | None = None, graph: Path | None = None, **flags: Any
) -> Settings:
    """Settings with the flags the user actually gave on top; configures logging from them."""
    overrides: dict[str, Any] = {**log_overrides(), **flags, "graph": graph}
    if cards:
        base = load_settings(config)
        overrides["cards"] = [*base.cards, *cards]
    settings = load_settings(config, **overrides)
    configure_logging(settings.log_format, settings.log_level)
    return settings
