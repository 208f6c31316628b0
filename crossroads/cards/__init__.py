"""Agent cards: the specialists' definitions (model) and how they are read from files (loader)."""

from crossroads.cards.loader import load_card, load_cards, parse_card
from crossroads.cards.model import (
    KNOWN_TOOLS,
    PACKAGED_CARDS_DIR,
    AgentCard,
    CardSection,
    Handoff,
    split_sections,
)

__all__ = [
    "KNOWN_TOOLS",
    "PACKAGED_CARDS_DIR",
    "AgentCard",
    "CardSection",
    "Handoff",
    "load_card",
    "load_cards",
    "parse_card",
    "split_sections",
]
