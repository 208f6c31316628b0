"""Tests of real parts (the sandbox, PostgreSQL, Redis, a browser) skip only outside CI.

`.ci/run` exports `CROSSROADS_CI=1`: there a missing part is a failure, so a broken install can never
pass as a green run of skipped tests.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CROSSROADS_CI") == "1"


def missing(reason: str) -> NoReturn:
    """Skip this test because a real part is missing here; in CI, fail it instead."""
    if IN_CI:
        pytest.fail(f"CI needs this part: {reason}", pytrace=False)
    pytest.skip(reason)
