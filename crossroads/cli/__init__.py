"""The `crossroads` command: a thin shell over the public API.

Command modules import heavy dependencies (pydantic-ai, FastAPI) inside their functions, so a fast
command such as `crossroads route` never pays for them. The typer app lives in `crossroads.cli.app`.
"""

from crossroads.cli.app import main

__all__ = ["main"]
