"""`python -m crossroads.tools.setup [--force] [PATH]`: build the sandbox runtime.

The same as `crossroads setup-sandbox`, for install scripts that run before the CLI is on PATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossroads.errors import CrossroadsError
from crossroads.logs import configure_logging
from crossroads.tools.runtime import build_runtime


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    configure_logging(level="info")  # progress on stderr; stdout carries only the runtime's path
    force = "--force" in args
    paths = [a for a in args if a != "--force"]
    try:
        built = build_runtime(Path(paths[0]) if paths else None, force=force)
    except CrossroadsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(built)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
