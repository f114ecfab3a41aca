"""One poller among the instances that share a database.

Telegram lets one `getUpdates` consumer poll a bot; a second one ends the first with 409
Conflict. So instances polling the same bot elect a poller with a lock in their database:

- PostgreSQL: a session advisory lock keyed on the bot id (namespace `POLLER_NAMESPACE`, apart
  from the migration lock's), held on a connection of its own named like the migrator's
  (`shopbot-poller pid=… host=…`), so it ends with that session: the process dies, or the
  connection breaks.
- SQLite: an exclusive `flock` on `<database file>.poller-<bot id>.lock`, so it ends with the
  process.

The others stand by, trying the lock every `STANDBY_INTERVAL` and saying who holds it (once per
change). The poller checks every `CHECK_INTERVAL` that it still holds the lock (its session
answers; the lock file is still the one beside the database) and steps down at once when not.
The lock pieces are the migration lock's (bot/migration/locks.py). No aiogram here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from loguru import logger
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.dao.database import sqlite_path
from bot.migration.connect import database_message
from bot.migration.locks import (
    advisory_holder,
    advisory_unlock,
    file_lock_holder,
    holder_name,
    lock_file_for,
    name_session,
    try_advisory_lock,
    try_file_lock,
)

# The advisory lock's first int4: the migration lock uses 0x5B07.
POLLER_NAMESPACE = 0x5B08
POLLER_NAME = "shopbot-poller"
# A standby tries the lock this often: the takeover after the poller lets go (or dies).
STANDBY_INTERVAL = 0.5
# The poller checks its lock this often: how long a poller that lost its database connection
# may still poll while a standby has already taken over.
CHECK_INTERVAL = 2.0
# One look at the database (an attempt at the lock, the poller's check) waits this long at most.
ROUND_TIMEOUT = 5.0
# What a standby cannot reach the database with: it says so and tries again.
_DATABASE_TROUBLE = (SQLAlchemyError, OSError, TimeoutError)


def poller_key(bot_id: int) -> dict[str, int]:
    """The advisory lock's two int4 keys: bot ids outgrow an int4, so the key is the id's low
    31 bits (two bots sharing a database collide only if their ids are a multiple of 2^31
    apart)."""
    return {"ns": POLLER_NAMESPACE, "key": bot_id % 2**31}


class PollerLock(Protocol):
    """The lock that makes an instance the poller."""

    async def try_acquire(self) -> bool: ...

    async def holder(self) -> str | None:
        """Who holds it, for the standby's messages; None when nobody does."""

    async def still_held(self) -> bool: ...

    async def release(self) -> None: ...


class AdvisoryPollerLock:
    """PostgreSQL: the session advisory lock on a connection opened for it. Releasing unlocks
    (so a standby may take it the moment this returns) and closes that connection; the lock
    ends with the session anyway."""

    def __init__(self, engine: AsyncEngine, bot_id: int, name: str) -> None:
        self._engine = engine
        self._params = poller_key(bot_id)
        self._name = name
        self._conn: AsyncConnection | None = None
        self._held = False

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            self._conn = conn  # before naming it: a failure there is dropped by release()
            await name_session(conn, self._name)
        return self._conn

    async def try_acquire(self) -> bool:
        self._held = await try_advisory_lock(await self._connection(), self._params)
        return self._held

    async def holder(self) -> str | None:
        return await advisory_holder(await self._connection(), self._params)

    async def still_held(self) -> bool:
        """A session advisory lock lasts as long as its session: if the session answers, it
        is still ours."""
        if self._conn is None:
            return False
        try:
            async with asyncio.timeout(ROUND_TIMEOUT):
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
        except _DATABASE_TROUBLE:
            return False
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        held, self._held = self._held, False
        if conn is None:
            return
        try:
            async with asyncio.timeout(ROUND_TIMEOUT):
                if held:
                    await advisory_unlock(conn, self._params)
                await conn.close()
        except _DATABASE_TROUBLE:
            await _drop(conn)


async def _drop(conn: AsyncConnection) -> None:
    """Close a broken connection at once, without a word to the server, which ends the session
    (and the lock) when it notices. Invalidating alone would not: the connection is detached
    from the pool, and nothing would close it. One SQLAlchemy already invalidated (it met a
    disconnect: the server restarted) has lost its driver connection already."""
    if conn.invalidated:
        return
    raw = await conn.get_raw_connection()
    if raw.dbapi_connection is not None:
        conn.dialect.do_terminate(raw.dbapi_connection)
    await conn.invalidate()


class FilePollerLock:
    """SQLite: an exclusive flock on a file beside the database; closing it lets go."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self._name = name
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if try_file_lock(fd, self._name):
            self._fd = fd
            return True
        os.close(fd)  # a fresh look next time, at whatever file is there then
        return False

    async def holder(self) -> str | None:
        return await file_lock_holder(self.path)

    async def still_held(self) -> bool:
        """Still the file beside the database: one removed or replaced under us would let
        another instance lock a new file and poll too."""
        if self._fd is None:
            return False
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            return False
        ours = os.fstat(self._fd)
        return (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino)

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def poller_lock(engine: AsyncEngine, bot_id: int) -> PollerLock | None:
    """The poller lock for the database behind `engine`; None for an in-memory SQLite
    database, which no other process can share."""
    name = holder_name(POLLER_NAME)
    if engine.url.get_backend_name() == "postgresql":
        return AdvisoryPollerLock(engine, bot_id, name)
    database = sqlite_path(engine.url)
    if database is None:
        return None
    return FilePollerLock(lock_file_for(database, f"poller-{bot_id}"), name)


class _ChangeLog:
    """Logs a message only when it differs from the one before."""

    def __init__(self) -> None:
        self._last: str | None = None

    def say(self, message: str) -> None:
        if message != self._last:
            logger.info("{}", message)
            self._last = message


class PollerElection:
    """Standing by until this instance may poll, watching the lock while it does, letting go."""

    def __init__(
        self,
        lock: PollerLock,
        *,
        standby_interval: float = STANDBY_INTERVAL,
        check_interval: float = CHECK_INTERVAL,
    ) -> None:
        self._lock = lock
        self._standby_interval = standby_interval
        self._check_interval = check_interval

    async def win(
        self,
        *,
        may_try: Callable[[], Awaitable[bool]],
        may_lead: Callable[[], Awaitable[bool]],
    ) -> None:
        """Stand by until this instance holds the lock and `may_lead()` (the schema fits this
        code, read afresh) agrees; the lock is not even tried while `may_try()` says no. Says
        who polls meanwhile, once per change. Ends only by winning or by being cancelled."""
        news = _ChangeLog()
        try:
            while True:
                try:
                    async with asyncio.timeout(ROUND_TIMEOUT):
                        if await may_try() and await self._round(may_lead, news):
                            return
                except _DATABASE_TROUBLE as error:
                    await self._lock.release()
                    news.say(
                        "standing by: cannot reach the database to see who polls "
                        f"({database_message(error)}); trying again"
                    )
                await asyncio.sleep(self._standby_interval)
        except asyncio.CancelledError:  # a stop: leave no lock, nor its connection, behind
            await self._lock.release()
            raise

    async def _round(self, may_lead: Callable[[], Awaitable[bool]], news: _ChangeLog) -> bool:
        """One try at the lock: True when won and kept."""
        if not await self._lock.try_acquire():
            holder = await self._lock.holder() or "an instance that has just let go"
            news.say(f"standing by: {holder} polls for updates")
            return False
        if await may_lead():
            return True
        await self._lock.release()  # may_lead said why
        return False

    async def watch(self, stop: asyncio.Event) -> bool:
        """Check the lock every `check_interval` until it is lost (True) or `stop` is set
        (False). A stop lets a check in progress finish rather than cancel it halfway, which
        would leave its connection in no state to let go of the lock."""
        while await self._lock.still_held():
            with suppress(TimeoutError):
                async with asyncio.timeout(self._check_interval):
                    await stop.wait()
            if stop.is_set():
                return False
        return True

    async def step_down(self) -> None:
        await self._lock.release()
