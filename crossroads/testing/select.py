"""Scenario selection: pytest-style `-k` expressions and tags.

`-k "cloud and not limits"` matches case-insensitive substrings of a scenario's id, file name,
description and tags, combined with `and`, `or`, `not` and parentheses, as pytest's `-k` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from crossroads.errors import InputError
from crossroads.testing.scenario import Scenario

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def keyword_matcher(expression: str) -> Callable[[str], bool]:
    """Compile a `-k` expression into a predicate over a scenario's searchable text."""
    tokens = [t for t in _TOKEN.findall(expression) if t]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(f"-k '{expression}': unexpected end of expression")
        pos += 1
        return tokens[pos - 1]

    def parse_or() -> Callable[[str], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def parse_and() -> Callable[[str], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def parse_not() -> Callable[[str], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        return parse_atom()

    def parse_atom() -> Callable[[str], bool]:
        token = take()
        if token == "(":
            inner = parse_or()
            if take() != ")":
                raise InputError(f"-k '{expression}': missing ')'")
            return inner
        if token in (")", "and", "or"):
            raise InputError(f"-k '{expression}': unexpected '{token}'")
        word = token.lower()
        return lambda s: word in s

    matcher = parse_or()
    if pos != len(tokens):
        raise InputError(f"-k '{expression}': unexpected '{tokens[pos]}'")
    return matcher


def searchable(scenario: Scenario) -> str:
    return " ".join([scenario.id, scenario.file.name, scenario.description, *scenario.tags]).lower()


def select(scenarios: Iterable[Scenario], keyword: str | None = None, tags: Iterable[str] = ()) -> list[Scenario]:
    """Scenarios matching the `-k` expression and carrying at least one of `tags` (when given)."""
    wanted = set(tags)
    match = keyword_matcher(keyword) if keyword else None
    return [s for s in scenarios if (not wanted or wanted & set(s.tags)) and (match is None or match(searchable(s)))]
