"""Throwaway databases: a fresh SQLite file or a fresh PostgreSQL database per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine

ADMIN_URL_ENV = "TEST_DATABASE_URL"
DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# A read SQLite spends the better part of a second on (counting to 3,000,000); it starts with
# SELECT, as the bot's reads do.
SLOW_SQLITE_READ = (
    "SELECT (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
    "SELECT count(*) FROM n)"
)


def admin_url() -> URL:
    return make_url(os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)).set(
        drivername="postgresql+asyncpg"
    )


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: URL, statement: str) -> None:
    connection = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def execute(url: URL, statement: str) -> None:
    """Run one statement on a PostgreSQL server with a fresh asyncpg connection."""
    asyncio.run(_execute(url, statement))


def postgres_reachable() -> str | None:
    """None when the admin URL answers, else the reason it does not."""
    try:
        execute(admin_url(), "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    return None


@dataclass(frozen=True)
class ThrowawayDatabase:
    backend: str
    url: URL
    path: Path | None = None  # the SQLite file

    @property
    def url_string(self) -> str:
        return self.url.render_as_string(hide_password=False)


@contextmanager
def postgres_database() -> Iterator[ThrowawayDatabase]:
    name = f"shopbot_test_{uuid.uuid4().hex[:12]}"
    execute(admin_url(), f'CREATE DATABASE "{name}"')
    try:
        yield ThrowawayDatabase("postgresql", admin_url().set(database=name))
    finally:
        execute(admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite_database(directory: Path) -> Iterator[ThrowawayDatabase]:
    path = directory / f"shopbot-{uuid.uuid4().hex[:8]}.sqlite3"
    yield ThrowawayDatabase("sqlite", make_url(f"sqlite+aiosqlite:///{path}"), path)


@contextmanager
def throwaway_database(backend: str, directory: Path) -> Iterator[ThrowawayDatabase]:
    if backend == "postgresql":
        with postgres_database() as database:
            yield database
    else:
        with sqlite_database(directory) as database:
            yield database


def fetch_all(database: ThrowawayDatabase, sql: str, **params: object) -> list[tuple]:
    """Run one read query on a fresh connection, from synchronous test code."""

    async def run() -> list[tuple]:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in await conn.execute(text(sql), params)]
        finally:
            await engine.dispose()

    return asyncio.run(run())


@asynccontextmanager
async def database_locked(
    database: ThrowawayDatabase, table: str = "purchases"
) -> AsyncIterator[None]:
    """Another connection holds `table` (SQLite: the one write lock, whatever the table)
    until the block ends."""
    engine = create_engine(database.url)
    try:
        async with engine.begin() as conn:
            if database.backend == "sqlite":
                await conn.execute(text(f"DELETE FROM {table} WHERE id < 0"))
            else:
                await conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        await engine.dispose()


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL this engine sends while the block runs (SQLite's own BEGIN and PRAGMAs left
    out: the engine sends them around every transaction)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
