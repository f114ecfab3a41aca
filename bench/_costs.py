"""Where an update's time goes: the database round trips it causes, and a profile grouped by
the package the time is spent in.

Round trips are counted with SQLAlchemy's events: every statement (`before_cursor_execute`),
every commit and rollback that reaches the database (one with no transaction open is not
sent: an update that only read, see bot.dao.deferred), every connection opened (each a
thread and three PRAGMAs on SQLite) and every pre-ping (a round trip before a checkout,
when the engine has `pool_pre_ping`). The pool's rollback of a connection given back is
left out: after a commit there is nothing to roll back (neither driver sends anything; on
SQLite see bot.dao.sqlite_driver). Statements that the driver runs on its own (asyncpg
preparing a statement it has not cached) are not seen.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

ROUND_TRIPS = ("statements", "commits", "rollbacks", "pings", "connections")


class RoundTrips:
    """Counts what an engine sends its database while installed."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)

    @contextmanager
    def watching(self, engine: AsyncEngine) -> Iterator[RoundTrips]:
        sync_engine = engine.sync_engine
        dialect = sync_engine.dialect
        ping = dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.counts["pings"] += 1
            return ping(dbapi_connection)

        def statement(*_args: Any) -> None:
            self.counts["statements"] += 1

        def commit(connection: Connection) -> None:
            if transaction_open(connection):
                self.counts["commits"] += 1

        def rollback(connection: Connection) -> None:
            if transaction_open(connection):
                self.counts["rollbacks"] += 1

        def connect(_dbapi: Any, _record: ConnectionPoolEntry) -> None:
            self.counts["connections"] += 1

        listeners: list[tuple[Any, str, Any]] = [
            (sync_engine, "before_cursor_execute", statement),
            (sync_engine, "commit", commit),
            (sync_engine, "rollback", rollback),
            (sync_engine.pool, "connect", connect),
        ]
        dialect.do_ping = counted_ping  # type: ignore[method-assign]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        try:
            yield self
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)
            del dialect.do_ping  # the class's own again


def transaction_open(connection: Connection) -> bool:
    """Whether the driver has a transaction open: its COMMIT or ROLLBACK is then sent."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        return bool(driver.in_transaction)
    return bool(driver.is_in_transaction())


# ---------------------------------------------------------------------------- the profile

# Where a function lives → the part of the stack it stands for. The first match wins.
AREAS: Sequence[tuple[str, str]] = (
    ("/bot/", "shopbot"),
    ("/bench/", "shopbot"),
    ("/tests/", "fake Telegram (tests)"),
    ("/aiogram/", "aiogram"),
    ("/pydantic", "pydantic"),
    ("/sqlalchemy/orm/", "SQLAlchemy ORM"),
    ("/sqlalchemy/", "SQLAlchemy Core, pool"),
    ("/asyncpg/", "asyncpg"),
    ("/aiosqlite/", "aiosqlite"),
    ("/greenlet/", "greenlet"),
    ("/babel/", "gettext, Babel"),
    ("/gettext", "gettext, Babel"),
    ("/asyncio/", "asyncio"),
    ("/threading", "threads"),
    ("/queue", "threads"),
)
WAITING = "waiting (epoll: database, driver thread)"


def area_of(filename: str, function: str) -> str:
    if "poll' of 'select." in function or function == "<method 'poll' of 'select.epoll' objects>":
        return WAITING
    for fragment, area in AREAS:
        if fragment in filename:
            return area
    if filename == "~":  # a builtin: counted where its caller is, unknown here
        return "builtins (C)"
    return "other Python"


def own_time_by_area(profile: cProfile.Profile) -> dict[str, float]:
    """Seconds of own time (not counting callees) per area of the stack."""
    stats = pstats.Stats(profile)
    totals: Counter[str] = Counter()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (
        _calls,
        _primitive,
        own,
        _cumulative,
        _callers,
    ) in raw.items():
        totals[area_of(filename, function)] += own
    return dict(totals)


@contextmanager
def profiled() -> Iterator[cProfile.Profile]:
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()
