"""Helpers shared by commands that build an orchestrator from flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crossroads.cli.app import log_overrides
from crossroads.config import Settings, load_settings
from crossroads.logs import configure_logging

StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict", help="Exit 2 on any card warning, skipped card file or card model fallback (strict_cards, for CI)."
    ),
]
NoBuiltinOpt = Annotated[
    bool,
    typer.Option("--no-builtin", help="Leave out the packaged specialists: the --cards folders are the whole team."),
]


def card_flags(strict: bool = False, no_builtin: bool = False) -> dict[str, Any]:
    """`--strict` / `--no-builtin` as settings overrides (None: the flag was not given, the config decides)."""
    return {"strict_cards": True if strict else None, "builtin_cards": False if no_builtin else None}


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
