"""The migration lock: one migrator at a time, whoever it is (a bot, a person with alembic).

PostgreSQL: a session advisory lock on the migration connection, so it dies with the session.
SQLite: an exclusive `flock` on a file beside the database, so it dies with the process.
Both are taken by polling with backoff, and the waiter says who holds the lock.

The pieces take the lock's key (or file) as a parameter: the poller election
(bot/serving/election.py) holds its own lock in another key space the same way.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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
# PostgreSQL keeps this many characters of an application_name.
_NAME_LIMIT = 63
# What a migrator announces while a revision runs (see HeldLock).
_APPLYING = "applying"
# How long a waiter gives a new SQLite lock holder to write its name: 20 x 5 ms.
_ANNOUNCE_READS = 20
_ANNOUNCE_PAUSE = 0.005


def advisory_key(version_table: str) -> int:
    return zlib.crc32(version_table.encode()) & 0x7FFFFFFF


async def _poll(
    try_acquire: Callable[[], Awaitable[bool]],
    describe_holder: Callable[[], Awaitable[str | None]],
    *,
    timeout: float,
    what: str,
) -> float:
    """Call `try_acquire` with backoff until it succeeds; return the seconds waited."""

    async def holder() -> str:
        return await describe_holder() or "a session that has just let go"

    async def attempt() -> bool | None:
        return True if await try_acquire() else None

    async def report(waited: float) -> None:
        logger.info(
            "waiting for the migration lock ({}) held by {}, {:.0f}s so far",
            what,
            await holder(),
            waited,
        )

    async def expired(_waited: float) -> StartupError:
        return LockTimeoutError(
            f"could not take the migration lock ({what}) within {timeout:g}s; it is held "
            f"by {await holder()}; raise MIGRATION_LOCK_TIMEOUT or stop that migrator"
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


@dataclass(frozen=True)
class HeldLock:
    """The migration lock, held: how long it took, and a way to tell waiters what we do.

    `announce` runs on the migration connection (on PostgreSQL it renames the session, which
    waiters read in pg_stat_activity; on SQLite it rewrites the lock file they read)."""

    waited: float
    announce: Callable[[Connection, str, str], None]  # (connection, revision, description)


def _advisory_params(version_table: str) -> dict[str, int]:
    return {"ns": LOCK_NAMESPACE, "key": advisory_key(version_table)}


async def try_advisory_lock(conn: AsyncConnection, params: dict[str, int]) -> bool:
    """One attempt at the session advisory lock (`params`: its two int4 keys, ns and key)."""
    got = await conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :key)"), params)
    await conn.commit()
    return bool(got)


async def advisory_unlock(conn: AsyncConnection, params: dict[str, int]) -> None:
    await conn.rollback()
    await conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), params)
    await conn.commit()


async def postgres_holder(conn: AsyncConnection, version_table: str) -> str | None:
    """Who holds the migration lock, what it announced and for how long its current
    transaction (a revision, while it migrates) has run; None when nobody holds it."""
    return await advisory_holder(conn, _advisory_params(version_table))


async def advisory_holder(conn: AsyncConnection, params: dict[str, int]) -> str | None:
    """Who holds the session advisory lock `params` (see `postgres_holder`)."""
    row = (
        await conn.execute(
            text(
                "SELECT a.pid, a.application_name, a.client_addr, "
                "extract(epoch FROM now() - a.xact_start) AS xact_seconds FROM pg_locks l "
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
        return None
    holder = f"pid {row.pid} ({row.application_name or 'no application_name'})"
    if row.client_addr:
        holder += f" from {row.client_addr}"
    if row.xact_seconds is not None and _APPLYING in (row.application_name or ""):
        holder += f", its revision running for {float(row.xact_seconds):.0f}s"
    return holder


@asynccontextmanager
async def postgres_lock(
    conn: AsyncConnection, *, version_table: str, timeout: float, name: str
) -> AsyncIterator[HeldLock]:
    params = _advisory_params(version_table)

    async def try_acquire() -> bool:
        return await try_advisory_lock(conn, params)

    async def describe_holder() -> str | None:
        return await advisory_holder(conn, params)

    def announce(sync_conn: Connection, revision: str, _description: str) -> None:
        # The host makes room: PostgreSQL keeps 63 characters of the name, and waiters see
        # the client's address and how long the revision's transaction has run instead.
        label = f"{name.split(' host=')[0]} {_applying(revision)}"[:_NAME_LIMIT]
        # On the driver's own cursor: this runs just before another statement of the
        # connection (Progress.watching), inside that statement's execution.
        cursor = sync_conn.connection.cursor()
        try:
            quoted = label.replace("'", "''")
            cursor.execute(f"SELECT set_config('application_name', '{quoted}', false)")
        finally:
            cursor.close()

    acquired = False
    try:
        waited = await _poll(
            try_acquire,
            describe_holder,
            timeout=timeout,
            what=f"advisory {LOCK_NAMESPACE}/{params['key']}",
        )
        acquired = True
        yield HeldLock(waited, announce)
    finally:
        if acquired and not conn.closed and not conn.invalidated:
            await advisory_unlock(conn, params)


def holder_name(role: str, unique: str = "") -> str:
    """Who we are, for others' lock-wait messages (and the outbox's claims). `unique` is kept
    whole however long the host's name: it tells apart two starts that got the same pid."""
    tail = f" {unique}" if unique else ""
    return f"{role} pid={os.getpid()} host={socket.gethostname()}"[: _NAME_LIMIT - len(tail)] + tail


def _applying(revision: str) -> str:
    return f"{_APPLYING} {revision}"


@asynccontextmanager
async def labeled_session(
    conn: AsyncConnection, name: str, *, ddl_lock_timeout: float
) -> AsyncIterator[None]:
    """On PostgreSQL, while the block runs: a name others see in pg_stat_activity (and in our
    lock-wait messages), and a DDL lock_timeout so a revision never queues behind a long
    transaction while the bot's traffic queues behind it.

    The session is thrown away as the block ends (invalidated: the pool closes it rather than
    handing it on), so its settings and a lock it held never reach the bot's queries, and no
    reset can fail halfway. Not detached up front like the poller's (`name_session`): a
    revision's `autocommit_block()` changes the connection's isolation level, which SQLAlchemy
    can undo only on a pooled connection."""
    if conn.dialect.name != "postgresql":
        yield
        return
    try:
        await _set_session(conn, "application_name", name)
        await _set_session(conn, "lock_timeout", f"{int(ddl_lock_timeout * 1000)}ms")
        yield
    finally:
        await conn.invalidate()


async def name_session(conn: AsyncConnection, name: str) -> None:
    """A PostgreSQL connection of its own, named `name` for pg_stat_activity (and for our
    lock-wait messages). It is detached from the pool, so closing it really closes it: session
    state (settings, an advisory lock) never reaches the bot's queries, and no reset can fail
    halfway."""
    await conn.run_sync(Connection.detach)
    await _set_session(conn, "application_name", name)


async def _set_session(conn: AsyncConnection, setting: str, value: str) -> None:
    await conn.execute(
        text("SELECT set_config(:setting, :value, false)"), {"setting": setting, "value": value}
    )
    await conn.commit()


def lock_file_for(database: Path, purpose: str = "migrate") -> Path:
    """`<database file>.<purpose>.lock`: the migration lock's file, or another lock's."""
    return database.with_name(f"{database.name}.{purpose}.lock")


def _first_line(path: Path) -> str:
    return path.read_text().partition("\n")[0].strip()


async def _announced_in(path: Path) -> str:
    """What the holder of the lock file wrote in it. It writes its name just after taking the
    lock, so an empty file means "a moment ago": look again briefly before calling it
    anonymous. A holder rewrites the file in place (`_write_announcement`), so the first line
    is always one whole announcement."""
    for _ in range(_ANNOUNCE_READS):
        announced = _first_line(path)
        if announced:
            return announced
        await asyncio.sleep(_ANNOUNCE_PAUSE)
    return "another process"


def _write_announcement(fd: int, announcement: str) -> None:
    """New text first, then cut off what is left of the old: a reader never sees an empty
    file or two announcements run together on the first line."""
    data = f"{announcement}\n".encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def try_file_lock(fd: int, name: str) -> bool:
    """One attempt at an exclusive flock on `fd`; the holder writes `name` in the file for
    the waiters' messages."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    _write_announcement(fd, name)
    return True


async def sqlite_holder(database: Path) -> str | None:
    """Who holds the migration lock file and what it announced; None when nobody holds it."""
    return await file_lock_holder(lock_file_for(database))


async def file_lock_holder(path: Path) -> str | None:
    """Who holds the lock file `path` and what it announced; None when nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return await _announced_in(path)
    finally:
        os.close(fd)  # closing also lets go of a shared lock we got
    return None


@asynccontextmanager
async def sqlite_lock(database: Path, *, timeout: float, name: str) -> AsyncIterator[HeldLock]:
    path = lock_file_for(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    async def try_acquire() -> bool:
        return try_file_lock(fd, name)

    async def describe_holder() -> str | None:
        return await _announced_in(path)

    def announce(_sync_conn: Connection, revision: str, description: str) -> None:
        since = datetime.now(UTC).strftime("%H:%M:%S UTC")
        _write_announcement(fd, f"{name} {_applying(revision)} ({description}) since {since}")

    try:
        waited = await _poll(try_acquire, describe_holder, timeout=timeout, what=str(path))
        yield HeldLock(waited, announce)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _announce_nothing(_sync_conn: Connection, _revision: str, _description: str) -> None:
    """An in-memory SQLite database belongs to this process alone: nobody waits."""


@asynccontextmanager
async def migration_lock(
    conn: AsyncConnection, *, version_table: str, timeout: float, name: str
) -> AsyncIterator[HeldLock]:
    """Hold the migration lock for the database behind `conn`. `name` says who holds it; on
    PostgreSQL the caller sets it as the application_name."""
    url = conn.engine.url
    if url.get_backend_name() == "postgresql":
        async with postgres_lock(
            conn, version_table=version_table, timeout=timeout, name=name
        ) as held:
            yield held
        return
    database = sqlite_path(url)
    if database is None:
        yield HeldLock(0.0, _announce_nothing)
        return
    async with sqlite_lock(database, timeout=timeout, name=name) as held:
        yield held


async def lock_holder(conn: AsyncConnection, version_table: str) -> str | None:
    """Who holds the migration lock of the database behind `conn`, without taking it."""
    url = conn.engine.url
    if url.get_backend_name() == "postgresql":
        return await postgres_holder(conn, version_table)
    database = sqlite_path(url)
    return await sqlite_holder(database) if database is not None else None
