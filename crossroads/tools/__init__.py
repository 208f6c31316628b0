"""Sandboxed tools specialists call: run Python, check math, run SQL (see crossroads/tools/sandbox.py)."""

from crossroads.tools.base import SandboxTools
from crossroads.tools.models import MathResult, PythonResult, SqlResult
from crossroads.tools.toolbox import Toolbox

__all__ = ["MathResult", "PythonResult", "SandboxTools", "SqlResult", "Toolbox"]
