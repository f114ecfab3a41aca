"""The migration lock: one migrator at a time, whoever it is (a bot, a person with alembic).

PostgreSQL: a session advisory lock on the migration connection, so it dies with the session.
SQLite: an exclusive `flock` on a file beside the database, so it dies with the process.
Both are taken by polling with backoff, and the waiter says who holds the lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.dao.database import sqlite_path
from bot.errors import StartupError
from bot.migration.errors import LockTimeoutError
from bot.migration.waiting import Backoff, wait_until

# Advisory locks are keyed by two int4s: a namespace for this project, and the version table.
LOCK_NAMESPACE = 0x5B07
# Waiters only re-check the schema once they hold the lock: a short cap keeps the last of
# many starting instances from waiting up to a second each after the migrator is done.
_BACKOFF = Backoff(first=0.05, cap=0.25)


def advisory_key(version_table: str) -> int:
    return zlib.crc32(version_table.encode()) & 0x7FFFFFFF


async def _poll(
    try_acquire: Callable[[], Awaitable[bool]],
    describe_holder: Callable[[], Awaitable[str]],
    *,
    timeout: float,
    what: str,
) -> float:
    """Call `try_acquire` with backoff until it succeeds; return the seconds waited."""

    async def attempt() -> bool | None:
        return True if await try_acquire() else None

    async def report(waited: float) -> None:
        logger.info(
            "waiting for the migration lock ({}) held by {}, {:.0f}s so far",
            what,
            await describe_holder(),
            waited,
        )

    async def expired(_waited: float) -> StartupError:
        return LockTimeoutError(
            f"could not take the migration lock ({what}) within {timeout:g}s; it is held "
            f"by {await describe_holder()}; raise MIGRATION_LOCK_TIMEOUT or stop that migrator"
        )

    _, waited = await wait_until(
        attempt,
        waiting_for="the migration lock",
        timeout=timeout,
        backoff=_BACKOFF,
        report=report,
        expired=expired,
    )
    return waited


@asynccontextmanager
async def postgres_lock(
    conn: AsyncConnection, *, version_table: str, timeout: float
) -> AsyncIterator[float]:
    key = advisory_key(version_table)
    params = {"ns": LOCK_NAMESPACE, "key": key}

    async def try_acquire() -> bool:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :key)"), params)
        await conn.commit()
        return bool(got)

    async def describe_holder() -> str:
        row = (
            await conn.execute(
                text(
                    "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :ns "
                    "AND l.objid = :key AND l.objsubid = 2 AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                params,
            )
        ).first()
        await conn.commit()
        if row is None:
            return "a session that has just let go"
        holder = f"pid {row.pid} ({row.application_name or 'no application_name'})"
        return f"{holder} from {row.client_addr}" if row.client_addr else holder

    acquired = False
    try:
        waited = await _poll(
            try_acquire, describe_holder, timeout=timeout, what=f"advisory {LOCK_NAMESPACE}/{key}"
        )
        acquired = True
        yield waited
    finally:
        if acquired and not conn.closed and not conn.invalidated:
            await conn.rollback()
            await conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), params)
            await conn.commit()


def holder_name(role: str) -> str:
    """Who we are, for another migrator's lock-wait messages (63: PostgreSQL's name limit)."""
    return f"{role} pid={os.getpid()} host={socket.gethostname()}"[:63]


async def label_session(conn: AsyncConnection, name: str, *, ddl_lock_timeout: float) -> None:
    """On PostgreSQL: a name others see in pg_stat_activity (and in our lock-wait messages),
    and a DDL lock_timeout so a revision never queues behind a long transaction while the
    bot's traffic queues behind it.

    The connection is detached from the pool first, so closing it really closes it: session
    state (these settings, the advisory lock) never reaches the bot's queries, and no reset
    can fail halfway."""
    if conn.dialect.name != "postgresql":
        return
    await conn.run_sync(Connection.detach)
    await conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name})
    await conn.execute(
        text("SELECT set_config('lock_timeout', :ms, false)"),
        {"ms": f"{int(ddl_lock_timeout * 1000)}ms"},
    )
    await conn.commit()


def lock_file_for(database: Path) -> Path:
    return database.with_name(database.name + ".migrate.lock")


@asynccontextmanager
async def sqlite_lock(database: Path, *, timeout: float, name: str) -> AsyncIterator[float]:
    path = lock_file_for(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    async def try_acquire() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, name.encode(), 0)  # for the waiters' messages
        return True

    async def describe_holder() -> str:
        return path.read_text().strip() or "another process"

    try:
        waited = await _poll(try_acquire, describe_holder, timeout=timeout, what=str(path))
        yield waited
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@asynccontextmanager
async def migration_lock(
    conn: AsyncConnection, *, version_table: str, timeout: float, name: str
) -> AsyncIterator[float]:
    """Hold the migration lock for the database behind `conn`; yields the seconds waited.
    `name` says who holds it; on PostgreSQL the caller sets it as the application_name."""
    url = conn.engine.url
    if url.get_backend_name() == "postgresql":
        async with postgres_lock(conn, version_table=version_table, timeout=timeout) as waited:
            yield waited
        return
    database = sqlite_path(url)
    if database is None:  # an in-memory database belongs to this process alone
        yield 0.0
        return
    async with sqlite_lock(database, timeout=timeout, name=name) as waited:
        yield waited
