"""Specialists: agent cards, the pydantic-ai agents built from them, the offline model and synthesis."""
