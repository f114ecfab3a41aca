"""SQLite: this process's write transactions queue on the event loop, not in SQLite's busy handler.

SQLite lets one connection write at a time. Updates that arrive together each open BEGIN
IMMEDIATE on a connection of their own, and the ones that lose wait in SQLite's busy handler,
which sleeps in growing steps (up to 100 ms) instead of being woken when the writer commits:
most of a burst's time went to those sleeps. So a write transaction first takes this process's
writer lock, an asyncio lock whose waiters are woken in turn the moment the transaction before
them commits or rolls back; only then does it ask SQLite for the write lock, which another
process (the alembic CLI, `python -m bot.stock load`, a second instance) may still hold, and
SQLite's busy timeout covers that wait as before. One writer at a time either way: the lock
only decides who asks SQLite next.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection
from sqlalchemy.pool import Pool
from sqlalchemy.util import await_only

# A writer lock per pool (an engine and its `execution_options` copies share one), per event
# loop (an asyncio lock belongs to the loop it waits on).
_LOCKS: WeakKeyDictionary[Pool, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = WeakKeyDictionary()


def take_writer_lock(connection: Connection, timeout_ms: int) -> Any:
    """Before BEGIN IMMEDIATE on `connection`: wait, on the event loop, until no other
    transaction of this process writes. Returns the driver's connection, which lets go of the
    lock as the transaction ends, or as it is closed or terminated (`hold_writer`); None for a
    driver without that hand-over (not aiosqlite). Waiting longer than `timeout_ms` fails as
    SQLite's own busy timeout does."""
    driver: Any = connection.connection.dbapi_connection
    if not hasattr(driver, "hold_writer"):
        return None
    per_loop = _LOCKS.setdefault(connection.engine.pool, {})
    lock = per_loop.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    try:
        await_only(asyncio.wait_for(lock.acquire(), timeout_ms / 1000))
    except TimeoutError:
        raise sqlite3.OperationalError(
            "database is locked (another transaction of this process kept writing)"
        ) from None
    driver.hold_writer(lock)
    return driver
