"""SQLite statements in one trip to the driver's thread, not four.

aiosqlite runs each SQLite connection on a thread of its own, and SQLAlchemy's adapter asks
that thread four times per statement: make a cursor, execute, fetch the rows, close the
cursor. Each trip is a hand-over between threads and back through the event loop, and on
this kind of machine costs more than the statement itself (a page of products is read in
tens of microseconds). Here the whole statement runs in one trip and its rows, description,
row count and last row id come back together. A commit or rollback with no transaction open
(after an update that only read, see bot.dao.routing, or the pool's rollback of a connection
given back after a commit) does nothing, so it makes no trip.

A trip is also a wait: the thread's answer reaches the waiting task only after the event loop
has run everything queued before it, and under load that is milliseconds for a statement of
microseconds, while a write transaction holds SQLite's one write lock. So a statement that
cannot wait runs at once, on the event loop's own thread (`OneTripConnection.run_at_once`):
one with no transaction open (a read, a BEGIN), tried without waiting for any lock and for at
most `AT_ONCE_SECONDS`; and every statement of a transaction that holds this process's writer
lock (bot.dao.sqlite_writer), which holds SQLite's write lock too, its commit included. What
would wait (another connection's lock: SQLite's busy handler), what runs longer, and every
other transaction's statements (a migration's) go to the connection's thread as before.

Plugged in through `create_async_engine(module=...)`, SQLAlchemy's own way to hand a dialect
its driver module; everything else is SQLAlchemy's aiosqlite adapter as it is.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT, await_only

# What one statement leaves behind: description, rows, row count, last row id.
_Outcome = tuple[Any, list[Any], int, int | None]
_Result = TypeVar("_Result")

# How long a statement may run on the event loop's thread before it gives way to the
# connection's: a row or a page is read in tens of microseconds; a report over a year of
# sales may take seconds, and the loop must not stop for it.
AT_ONCE_SECONDS = 0.001
DEFAULT_TIMEOUT_SECONDS = 5.0  # sqlite3.connect's own default busy timeout
_CLOCK_EVERY = 1000  # SQLite VM instructions between two looks at the clock (~30 µs)
# What a statement tried at once answers when it must go to the thread instead: a lock it
# would have waited for, or the clock (its own progress handler's interruption).
_GIVE_WAY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT}


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """The statement, its rows and its counts."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _gives_way(error: sqlite3.OperationalError) -> bool:
    return error.sqlite_errorcode & 0xFF in _GIVE_WAY


def _ended_at_once(conn: sqlite3.Connection, end: Callable[[sqlite3.Connection], None]) -> bool:
    """False if SQLite would have waited for a lock (only outside WAL mode, where a commit
    waits for readers): the transaction is still open, to be ended on the thread."""
    try:
        end(conn)
    except sqlite3.OperationalError as error:
        if _gives_way(error):
            return False
        raise
    return True


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, rows and counts come back in one trip to the thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No driver cursor is kept (the parent's makes one: a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with connection._execute_mutex:
            outcome = connection.run_at_once(operation, parameters, many)
            if outcome is None:
                outcome = await connection.in_thread(_run, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the rows are here already."""


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_busy_timeout_ms", "_busy_timeout_set_ms", "_writer")

    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any, busy_timeout_ms: int) -> None:
        # Any: aiosqlite's Connection, which SQLAlchemy's protocol for it does not describe.
        super().__init__(dbapi, connection)
        self._writer: asyncio.Lock | None = None
        self._busy_timeout_ms = busy_timeout_ms  # what a statement on the thread waits
        self._busy_timeout_set_ms = busy_timeout_ms  # what SQLite has now

    def wait_for_locks(self, milliseconds: int) -> None:
        """How long a statement waits for another connection's lock (SQLite's busy timeout),
        from the next statement on. Only on the thread: one run at once never waits."""
        self._busy_timeout_ms = milliseconds

    def hold_writer(self, lock: asyncio.Lock) -> None:
        """This connection's transaction holds the process's writer lock (bot.dao.sqlite_writer)
        until it commits, rolls back or the connection closes."""
        self._writer = lock

    def let_writer_go(self) -> None:
        """The writer lock back, if this connection holds it."""
        lock = self._writer
        if lock is not None:
            self._writer = None
            lock.release()

    def run_at_once(self, operation: str, parameters: Any, many: bool) -> _Outcome | None:
        """The statement run on the event loop's thread, or None if it must go to the
        connection's thread (see the module's docstring)."""
        conn = self._sqlite()
        if conn.in_transaction:
            if self._writer is None:  # another kind of transaction (a migration's): the thread's
                return None
            if not operation.startswith("SELECT"):
                # Never cut short: SQLite rolls the whole transaction back when a statement
                # that writes is interrupted. It cannot wait either: the write lock is ours.
                return _run(conn, operation, parameters, many)
        self._set_busy_timeout(conn, 0)
        deadline = time.perf_counter() + AT_ONCE_SECONDS
        conn.set_progress_handler(lambda: time.perf_counter() > deadline, _CLOCK_EVERY)
        try:
            return _run(conn, operation, parameters, many)
        except sqlite3.OperationalError as error:
            # A read, or a statement with no transaction open: nothing of it is left to undo.
            if _gives_way(error):
                return None
            raise
        finally:
            conn.set_progress_handler(None, 0)

    async def in_thread(self, run: Callable[..., _Result], *args: Any) -> _Result:
        """`run(sqlite3 connection, *args)` on the connection's thread, where a statement may
        wait for another connection's lock as long as `wait_for_locks` says."""

        def waiting() -> _Result:
            conn = self._sqlite()
            self._set_busy_timeout(conn, self._busy_timeout_ms)
            return run(conn, *args)

        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        result: _Result = await driver._execute(waiting)  # type: ignore[no-untyped-call]
        return result

    def commit(self) -> None:
        self._end_transaction(sqlite3.Connection.commit)

    def rollback(self) -> None:
        self._end_transaction(sqlite3.Connection.rollback)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.let_writer_go()

    def terminate(self) -> None:
        """How the pool drops a connection whose statement was cancelled."""
        try:
            super().terminate()
        finally:
            self.let_writer_go()

    def _end_transaction(self, end: Callable[[sqlite3.Connection], None]) -> None:
        """Commit or roll back, and only when a transaction is open: after an update that only
        read, or the pool's rollback of a connection given back, there is nothing to end and
        nothing is sent. A transaction holding the writer lock ends at once, since it holds
        SQLite's write lock; its commit waits for the disk on the loop's thread (a hand-over
        to the connection's thread and back costs more than the disk, see bench/README.md).
        Any other ends on the connection's thread, where it may wait for a lock."""
        try:
            driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            if driver._connection is not None and driver.in_transaction:
                try:
                    if self._writer is None or not _ended_at_once(driver._conn, end):
                        await_only(self.in_thread(end))
                except Exception as error:
                    self._handle_exception(error)
        finally:
            self.let_writer_go()

    def _sqlite(self) -> sqlite3.Connection:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return driver._conn

    def _set_busy_timeout(self, conn: sqlite3.Connection, milliseconds: int) -> None:
        """Only when it changes: the thread's statements and those run at once alternate."""
        if self._busy_timeout_set_ms != milliseconds:
            conn.execute(f"PRAGMA busy_timeout={milliseconds}")
            self._busy_timeout_set_ms = milliseconds


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        # Statements run on the event loop's thread as well as the connection's own, never
        # both at once (the adapter's mutex); SQLite itself is built serialized.
        kwargs["check_same_thread"] = False
        adapted = super().connect(*args, **kwargs)
        busy_timeout_ms = round(kwargs.get("timeout", DEFAULT_TIMEOUT_SECONDS) * 1000)
        return OneTripConnection(self, adapted._connection, busy_timeout_ms)


def one_trip_dbapi() -> OneTripDBAPI:
    """The driver module to give `create_async_engine(module=...)` for `sqlite+aiosqlite`."""
    return OneTripDBAPI(aiosqlite, sqlite3)
