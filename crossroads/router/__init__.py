"""Routing: decide which specialists answer a question, and what part of it each one gets.

Nothing in this package imports the LLM stack at import time, so `crossroads route` starts fast.
"""

from crossroads.router.base import Router
from crossroads.router.keyword import KeywordRouter

__all__ = ["KeywordRouter", "Router"]
