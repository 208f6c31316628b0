"""Specialists: the pydantic-ai agents built from cards, their tools, handoffs along the graph, synthesis."""
