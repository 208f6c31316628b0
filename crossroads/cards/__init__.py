"""Agent cards: the specialists' definitions and how they are read from files.

`model` is the card, `loader` reads folders of them, `claude` is what crossroads knows of the Claude Code
subagent format, and `mcp_config` the MCP servers cards bring.
"""

from crossroads.cards.claude import CLAUDE_FIELDS, CLAUDE_TOOLS, agent_id, mcp_tool_allowed
from crossroads.cards.loader import CardIssue, CardSet, load_card, load_cards, parse_card, read_card, scan_cards
from crossroads.cards.mcp_config import McpRegistry, McpServer
from crossroads.cards.model import (
    KNOWN_TOOLS,
    PACKAGED_CARDS_DIR,
    AgentCard,
    CardSection,
    Handoff,
    split_sections,
)

__all__ = [
    "CLAUDE_FIELDS",
    "CLAUDE_TOOLS",
    "KNOWN_TOOLS",
    "PACKAGED_CARDS_DIR",
    "AgentCard",
    "CardIssue",
    "CardSection",
    "CardSet",
    "Handoff",
    "McpRegistry",
    "McpServer",
    "agent_id",
    "load_card",
    "load_cards",
    "mcp_tool_allowed",
    "parse_card",
    "read_card",
    "scan_cards",
    "split_sections",
]
