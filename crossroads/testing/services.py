"""Throwaway PostgreSQL and Redis servers on loopback, for tests, benchmarks and `.ci/run`.

Both run from the Debian packages (`postgresql`, `redis-server`) in a directory of the caller's, on a
free port of 127.0.0.1, with durability off (fsync, snapshots) because their data dies with them.
PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user the
package creates.

    python -m crossroads.testing.services start DIR   # prints `export CROSSROADS_TEST_..._URL=...` lines
    python -m crossroads.testing.services stop DIR
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

POSTGRES_ENV = "CROSSROADS_TEST_POSTGRES_URL"
REDIS_ENV = "CROSSROADS_TEST_REDIS_URL"
CI_ENV = "CROSSROADS_CI"
"""Set (to 1) by `.ci/run`: a server that cannot be reached there is a test failure, not a skip."""


class ServiceUnavailable(RuntimeError):
    """The server could not be started here (package missing, no postgres user, port trouble)."""


@dataclass
class Service:
    """A started server: its URL and how to stop it."""

    name: str
    url: str
    directory: Path

    def stop(self) -> None:
        stop_service(self.name, self.directory)
        if self.name == "postgres":
            remove_postgres_home(self.directory)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ServiceUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        raise ServiceUnavailable("running as root without runuser: cannot start PostgreSQL as its own user")
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str, timeout: float = 120) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ServiceUnavailable(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-400:]}")


def start_postgres(directory: Path, *, durable: bool = False) -> Service:
    """Run initdb and pg_ctl start on a free loopback port; trust auth for user `crossroads`.

    The cluster lives in `directory/pg`, or, as root, in a fresh directory under the system temp dir
    that the `postgres` user owns (it cannot reach into root's 0700 directories such as pytest's);
    `directory` keeps what `stop_service` and `restart_postgres` need. `durable=False` (tests) turns
    fsync and synchronous commit off; benchmarks keep PostgreSQL's defaults so their figures are those
    of a real deployment.
    """
    pg_bin = _pg_bin()
    directory.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="crossroads-pg-")) if os.geteuid() == 0 else directory
    data = home / "pg"
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            shutil.chown(home, "postgres")
            shutil.chown(data, "postgres")
        except (LookupError, OSError) as exc:
            shutil.rmtree(home, ignore_errors=True)
            raise ServiceUnavailable(f"cannot hand {data} to the postgres user: {exc}") from None
        os.chmod(home, 0o755)
    data.chmod(0o700)
    (directory / "pg.home").write_text(str(home))
    port = free_port()
    _run(
        _as_postgres(
            [str(pg_bin / "initdb"), "-D", str(data), "-U", "crossroads", "-A", "trust", "-E", "UTF8", "--no-sync"]
        ),
        "initdb",
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    start = [str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "pg.log"), "-w", "start"]
    _run(_as_postgres(start), "pg_ctl start")
    (directory / "pg.bin").write_text(str(pg_bin))
    (directory / "pg.start").write_text(json.dumps(start))
    return Service("postgres", f"postgresql://crossroads@127.0.0.1:{port}/postgres", directory)


def restart_postgres(directory: Path) -> None:
    """Start again, on the same port and data, a PostgreSQL that `start_postgres` started and that was stopped."""
    _run(_as_postgres(json.loads((directory / "pg.start").read_text())), "pg_ctl start")


def start_redis(directory: Path) -> Service:
    """redis-server on a free loopback port, daemonized, no persistence."""
    server = shutil.which("redis-server")
    if server is None:
        raise ServiceUnavailable("redis-server not found (apt-get install redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pidfile = directory / "redis.pid"
    _run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(directory / "redis.log"),
        ],
        "redis-server",
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return Service("redis", f"redis://127.0.0.1:{port}/0", directory)
        except OSError:
            time.sleep(0.05)
    raise ServiceUnavailable(f"redis-server did not answer on port {port}")


def stop_service(name: str, directory: Path) -> None:
    """Stop a server started by this module (fast shutdown; nothing to keep)."""
    if name == "postgres" and (directory / "pg.bin").exists():
        pg_bin = Path((directory / "pg.bin").read_text())
        home = Path((directory / "pg.home").read_text())
        subprocess.run(
            _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(home / "pg"), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
    elif name == "redis" and (directory / "redis.pid").exists():
        try:
            os.kill(int((directory / "redis.pid").read_text().strip()), 15)
        except (ValueError, OSError):
            pass


def remove_postgres_home(directory: Path) -> None:
    """Delete a stopped cluster's files when they live outside `directory` (as root, in the temp dir)."""
    marker = directory / "pg.home"
    if marker.exists():
        home = Path(marker.read_text())
        if home != directory and home.name.startswith("crossroads-pg-"):
            shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Throwaway PostgreSQL and Redis for crossroads' tests.")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    directory: Path = args.directory.resolve()
    if args.action == "stop":
        stop_service("postgres", directory / "postgres")
        stop_service("redis", directory / "redis")
        remove_postgres_home(directory / "postgres")
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    try:
        pg = start_postgres(directory / "postgres")
        redis = start_redis(directory / "redis")
    except ServiceUnavailable as exc:
        print(f"cannot start the test services: {exc}", file=sys.stderr)
        return 1
    print(f"export {POSTGRES_ENV}={pg.url}")
    print(f"export {REDIS_ENV}={redis.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
