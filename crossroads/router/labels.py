"""The router's class labels and calibration floor, shared by the lexical model and the semantic tier."""

from __future__ import annotations

OFF_TOPIC = "(off-topic)"
"""The extra class learnt from off-topic examples; its confidence discounts every specialist's."""
MIN_CALIBRATION_EXAMPLES = 10
"""A class with fewer labelled examples borrows the others' calibration."""
