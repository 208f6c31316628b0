"""Routing: decide which specialists answer a question, and what part of it each one gets.

Nothing in this package imports the LLM stack at import time (`llm.py` is loaded only when a model is
configured for routing), so `crossroads route` starts fast.
"""

from crossroads.router.base import Router
from crossroads.router.cascade import CascadeRouter, build_local, build_router
from crossroads.router.decision import Rule, choose
from crossroads.router.evaluate import EvalReport, evaluate, score
from crossroads.router.examples import Example, load_examples
from crossroads.router.keyword import KeywordRouter
from crossroads.router.local import LocalRouter
from crossroads.router.model import LocalModel

__all__ = [
    "CascadeRouter",
    "EvalReport",
    "Example",
    "KeywordRouter",
    "LocalModel",
    "LocalRouter",
    "Router",
    "Rule",
    "build_local",
    "build_router",
    "choose",
    "evaluate",
    "load_examples",
    "score",
]
