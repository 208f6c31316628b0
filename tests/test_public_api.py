"""The public surface: `crossroads.__all__` is sorted, every name resolves, and every error is exported."""

from __future__ import annotations

import subprocess
import sys

import crossroads
import crossroads.errors


def test_all_is_sorted_and_unique() -> None:
    assert crossroads.__all__ == sorted(set(crossroads.__all__))


def test_every_public_name_resolves() -> None:
    for name in crossroads.__all__:
        assert getattr(crossroads, name) is not None, name


def test_every_error_class_is_public() -> None:
    errors = {
        name
        for name, value in vars(crossroads.errors).items()
        if isinstance(value, type) and issubclass(value, crossroads.errors.CrossroadsError)
    }
    assert errors <= set(crossroads.__all__), sorted(errors - set(crossroads.__all__))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        _ = crossroads.NotAThing
    except AttributeError as exc:
        assert "NotAThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_loads_no_llm_stack() -> None:
    code = "import sys, crossroads; print(sorted(m for m in ('pydantic_ai', 'httpx2', 'networkx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
