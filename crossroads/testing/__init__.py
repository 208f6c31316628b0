"""Helpers for testing crossroads (and code built on it) without a network or API keys."""
