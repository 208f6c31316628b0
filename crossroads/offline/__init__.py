"""The offline model: deterministic pydantic-ai models for every role, so crossroads works with no key.

They go through the same agent loop as real providers (real tool calls, real handoffs, structured
router output): `specialist` answers from a card, `synthesizer` merges answers, `router_model` is the
LLM router's offline stand-in. `claims` finds math claims to check, `card_index` scores text against
cards, `reports` turns tool results into faithful sentences.
"""
