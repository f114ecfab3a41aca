"""Fixtures: every database test runs on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dao.database import create_engine
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import (
    ADMIN_URL_ENV,
    ThrowawayDatabase,
    admin_url,
    postgres_reachable,
    throwaway_database,
)
from tests.support.redis import ThrowawayRedis
from tests.support.replica import (
    PASSWORD,
    PASSWORD_ROLE,
    Database,
    ReplicaPair,
    replica_pair,
    server_binaries_missing,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_available() -> None:
    reason = postgres_reachable()
    if reason is not None:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin_url().render_as_string(hide_password=True)} "
            f"({reason}); start it or set {ADMIN_URL_ENV} to a server where we may create "
            "databases (tests/run does this for you)",
            pytrace=False,
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_available")
    return request.param


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[ThrowawayDatabase]:
    with throwaway_database(backend, tmp_path) as created:
        yield created


@pytest.fixture
async def engine(database: ThrowawayDatabase) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database.url)
    yield created
    await created.dispose()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A redis-server of the test's own, which it may stop and start again."""
    server = ThrowawayRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    """A fake Telegram Bot API server; give `fake_api.url` to the bot as BOT_API_URL."""
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def log() -> Iterator[list[str]]:
    """What this process logs at INFO and above while the test runs, a line each."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    yield lines
    logger.remove(sink)


@pytest.fixture(scope="session")
def pair() -> Iterator[ReplicaPair]:
    """A throwaway PostgreSQL primary and its hot standby, for the whole session."""
    missing = server_binaries_missing()
    if missing is not None:
        # A developer without the server binaries may skip; CI must prove the feature.
        reason = f"no replica can be made here: {missing}; install the PostgreSQL server"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with replica_pair() as made:
        made.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
        yield made


@pytest.fixture
def replicated(pair: ReplicaPair) -> Iterator[Database]:
    """A fresh database on the pair, once the replica has replayed it."""
    with pair.database() as fresh:
        yield fresh
