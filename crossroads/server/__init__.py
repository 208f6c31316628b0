"""The HTTP service (`crossroads serve`, extra `crossroads[serve]`) and the MCP server (`crossroads mcp`)."""

from crossroads.server.app import create_app

__all__ = ["create_app"]
