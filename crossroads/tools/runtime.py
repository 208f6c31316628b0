"""The snippet runtime: a venv built from the system Python, outside root's home, with sympy and numpy.

The project's own interpreter may live under /root (mode 0700), which the sandbox's dropped uid cannot
execute, so snippets run on Debian's `/usr/bin/python3` plus this venv, bind-mounted read-only.
Building is idempotent: a stamp file records what was installed, and a built runtime is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import structlog

from crossroads.errors import RunError

DEFAULT_RUNTIME = Path("/opt/crossroads/sandbox")
SYSTEM_PYTHON = Path("/usr/bin/python3")
PACKAGES = ("sympy>=1.12", "numpy>=1.26", "pyseccomp==0.1.2")
_STAMP = ".crossroads-runtime.json"

log = structlog.get_logger("crossroads.tools.runtime")


def runtime_path(configured: Path | None = None) -> Path:
    """Settings `sandbox.runtime`, else $CROSSROADS_SANDBOX__RUNTIME, else /opt/crossroads/sandbox."""
    if configured is not None:
        return Path(configured)
    env = os.environ.get("CROSSROADS_SANDBOX__RUNTIME")
    return Path(env) if env else DEFAULT_RUNTIME


def _wanted() -> dict[str, object]:
    return {"packages": list(PACKAGES), "python": str(SYSTEM_PYTHON)}


def is_built(path: Path) -> bool:
    """True when the stamp matches and the interpreter exists (cheap: no import check)."""
    try:
        stamp = json.loads((path / _STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp == _wanted() and (path / "bin" / "python").exists()


def unreadable_component(path: Path) -> Path | None:
    """The first directory on `path` that other users cannot traverse (the sandbox uid needs o+x)."""
    for part in [*reversed(path.parents), path]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return part
        if not mode & stat.S_IXOTH:
            return part
    return None


def build_runtime(path: Path | None = None, *, force: bool = False) -> Path:
    """Create (or reuse) the runtime venv. Raises RunError with the failing step's output."""
    target = runtime_path(path)
    if not force and is_built(target):
        log.info("sandbox runtime up to date", path=str(target))
        return target
    if not SYSTEM_PYTHON.exists():
        raise RunError(f"{SYSTEM_PYTHON} is missing: install Debian's python3 and python3-venv")
    blocked = unreadable_component(target.parent) if target.parent.exists() else None
    if blocked is not None:
        raise RunError(f"{blocked} is not traversable by other users; choose a runtime outside it")
    if force and target.exists():
        shutil.rmtree(target)
    log.info("building sandbox runtime", path=str(target), packages=list(PACKAGES))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    _run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", "--clear", str(target)], "create the venv")
    python = target / "bin" / "python"
    pip_args = ["install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location", *PACKAGES]
    if _host_pip_works():
        _run([sys.executable, "-m", "pip", "--python", str(python), *pip_args], "install packages")
    else:
        _run([str(python), "-m", "ensurepip", "--default-pip"], "bootstrap pip in the runtime")
        _run([str(python), "-m", "pip", *pip_args], "install packages")
    _run([str(python), "-I", "-c", "import sympy, numpy, pyseccomp"], "import check")
    _make_world_readable(target)
    (target / _STAMP).write_text(json.dumps(_wanted()))
    os.chmod(target / _STAMP, 0o644)
    log.info("sandbox runtime built", path=str(target))
    return target


def _host_pip_works() -> bool:
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return False
    try:  # `pip --python` arrived in pip 22.3
        major, minor = (int(x) for x in probe.stdout.split()[1].split(".")[:2])
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (22, 3)


def _run(argv: list[str], step: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RunError(f"sandbox runtime: could not {step}: " + " | ".join(detail))


def _make_world_readable(root: Path) -> None:
    """The sandbox runs as an unprivileged slot uid: it must read (never write) the runtime."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            mode = p.stat().st_mode
            extra = stat.S_IROTH | stat.S_IRGRP
            if p.is_dir() or mode & stat.S_IXUSR:
                extra |= stat.S_IXOTH | stat.S_IXGRP
            os.chmod(p, (mode | extra) & ~(stat.S_IWOTH | stat.S_IWGRP))
    os.chmod(root, 0o755)
