"""Real PostgreSQL and Redis for the storage and limit tests.

`.ci/run` starts both and exports their URLs (`CROSSROADS_TEST_POSTGRES_URL`, `CROSSROADS_TEST_REDIS_URL`)
with `CROSSROADS_CI=1`; there an unreachable server fails the tests. Elsewhere, without the variables,
the fixtures start throwaway servers from the Debian packages, and skip (saying why) only when that
is impossible. The variables are read at import: the autouse fixture of conftest.py clears every
CROSSROADS_* variable before each test runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_parts import missing

from crossroads.testing.services import (
    POSTGRES_ENV,
    REDIS_ENV,
    Service,
    ServiceUnavailable,
    start_postgres,
    start_redis,
)

ENV_POSTGRES = os.environ.get(POSTGRES_ENV)
ENV_REDIS = os.environ.get(REDIS_ENV)


def _unavailable(what: str, why: str) -> None:
    missing(f"{what} unavailable here ({why}); .ci/run starts one")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a PostgreSQL server (maintenance database) the tests may create databases on."""
    if ENV_POSTGRES:
        _check_postgres(ENV_POSTGRES)
        yield ENV_POSTGRES
        return
    directory = Path(tmp_path_factory.mktemp("pg"))
    service: Service | None = None
    try:
        service = start_postgres(directory)
    except (ServiceUnavailable, OSError) as exc:
        _unavailable("PostgreSQL", str(exc))
    assert service is not None
    try:
        yield service.url
    finally:
        service.stop()


def _check_postgres(url: str) -> None:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        _unavailable("PostgreSQL", f"{url}: {exc}")


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped after it)."""
    import psycopg
    from psycopg import sql

    name = f"crossroads_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis server; tests keep apart by key prefix."""
    if ENV_REDIS:
        _check_redis(ENV_REDIS)
        yield ENV_REDIS
        return
    service: Service | None = None
    try:
        service = start_redis(Path(tmp_path_factory.mktemp("redis")))
    except (ServiceUnavailable, OSError) as exc:
        _unavailable("Redis", str(exc))
    assert service is not None
    try:
        yield service.url
    finally:
        service.stop()


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.RedisError as exc:
        _unavailable("Redis", f"{url}: {exc}")
