"""SQLite statements in one trip to the driver's thread, not four.

aiosqlite runs each SQLite connection on a thread of its own, and SQLAlchemy's adapter asks
that thread four times per statement: make a cursor, execute, fetch the rows, close the
cursor. Each trip is a hand-over between threads and back through the event loop, and on
this kind of machine costs more than the statement itself (a page of products is read in
tens of microseconds). Here the whole statement runs in one trip and its rows, description,
row count and last row id come back together. A commit or rollback with no transaction open
(after an update that only read, see bot.dao.routing, or the pool's rollback of a connection
given back after a commit) does nothing, so it makes no trip.

Plugged in through `create_async_engine(module=...)`, SQLAlchemy's own way to hand a dialect
its driver module; everything else is SQLAlchemy's aiosqlite adapter as it is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

# What one statement leaves behind: description, rows, row count, last row id.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run(driver: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In the connection's thread: the statement, its rows and its counts."""
    cursor = driver._conn.cursor()
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
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await driver._execute(  # type: ignore[no-untyped-call]
                _run, driver, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the rows are here already."""


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_writer",)

    _cursor_cls = OneTripCursor

    _writer: asyncio.Lock | None

    def hold_writer(self, lock: asyncio.Lock) -> None:
        """This connection's transaction holds the process's writer lock (bot.dao.sqlite_writer)
        until it commits, rolls back or the connection closes."""
        self._writer = lock

    def let_writer_go(self) -> None:
        """The writer lock back, if this connection holds it."""
        lock = getattr(self, "_writer", None)
        if lock is not None:
            self._writer = None
            lock.release()

    def commit(self) -> None:
        try:
            if self._transaction_open():
                super().commit()
        finally:
            self.let_writer_go()

    def rollback(self) -> None:
        try:
            if self._transaction_open():
                super().rollback()
        finally:
            self.let_writer_go()

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

    def _transaction_open(self) -> bool:
        # SQLite's own answer, read without a trip (it is a flag of the connection); a
        # connection being closed goes to the parent, which knows what to do.
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return driver._connection is None or driver.in_transaction


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        adapted = super().connect(*args, **kwargs)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The driver module to give `create_async_engine(module=...)` for `sqlite+aiosqlite`."""
    return OneTripDBAPI(aiosqlite, sqlite3)
