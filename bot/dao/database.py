"""Declarative base, engine and session factories; the same code serves SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, NullPool
from sqlalchemy.types import TypeDecorator

from bot.dao.deferred import DEFER_TRANSACTION, defer_transactions
from bot.dao.liveness import ping_when_idle
from bot.dao.routing import RoutedSession
from bot.dao.sqlite_driver import OneTripConnection, one_trip_dbapi
from bot.dao.sqlite_writer import take_writer_lock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connection execution options the bot's sessions set (see `serving_session_factory`):
# take SQLite's write lock at BEGIN, and bound how long one transaction waits for a lock.
BEGIN_IMMEDIATE = "shopbot_begin_immediate"
LOCK_WAIT_MS = "shopbot_lock_wait_ms"
# SQLite: reads with no transaction around them (see `reading`).
NO_TRANSACTION = "shopbot_no_transaction"
_BUSY_TIMEOUT = "shopbot_busy_timeout_ms"  # what a connection of another driver has, in its info
# PostgreSQL: a handful of connections serve many updates, since no transaction waits on
# Telegram; the overflow absorbs bursts, and a wait past the timeout is retried by payments.
POOL_SIZE = 10
POOL_MAX_OVERFLOW = 20
POOL_TIMEOUT = 10.0
# Instead of a ping at every checkout (see bot.dao.liveness): a connection idle longer than
# this is pinged first, and none is kept longer than POOL_RECYCLE_SECONDS (proxies and
# firewalls drop old ones silently).
PING_IDLE_SECONDS = 5.0
POOL_RECYCLE_SECONDS = 1800
# SQLite: connections kept open for the next updates (a new one costs a thread and three
# PRAGMAs: half of a read-only update's time). Never a wait for one: an update may hold two
# at once (its reads apart from its writes, see bot.dao.routing), so a bounded pool could
# deadlock; how many are open at once is bounded by the updates in flight (UPDATES_IN_FLIGHT).
SQLITE_POOL_SIZE = 8


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    if not is_sqlite(url) or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


class UnusableSQLiteError(Exception):
    """A SQLite database the bot cannot keep its data in; `read_only` when only the
    permissions (or a read-only file system) are in the way."""

    def __init__(self, message: str, *, read_only: bool = False) -> None:
        super().__init__(message)
        self.read_only = read_only


def check_sqlite_database(url: URL) -> None:
    """Refuse, before anything is written, a SQLite database the bot could not keep data in:
    in memory, a path through a file, or a file or directory it may not write (SQLite writes
    its journal beside the file). Creates the file's directory; other databases pass."""
    if not is_sqlite(url):
        return
    path = sqlite_path(url)
    if path is None:
        raise UnusableSQLiteError(
            "an in-memory SQLite database is a new, empty one on every connection, so nothing "
            "would be kept; set DATABASE_URL to a file such as "
            "sqlite+aiosqlite:///data/shopbot.sqlite3"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnusableSQLiteError(
            f"the SQLite database {path} cannot be created: part of {path.parent} is a file, "
            "not a directory; fix DATABASE_URL"
        ) from None
    except PermissionError:
        raise UnusableSQLiteError(
            f"the directory {path.parent} of the SQLite database cannot be created (permission "
            "denied); create it writable for this user, or fix DATABASE_URL",
            read_only=True,
        ) from None
    if path.is_dir():
        raise UnusableSQLiteError(f"the SQLite database {path} is a directory; fix DATABASE_URL")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UnusableSQLiteError(
            f"the directory {path.parent} of the SQLite database is read-only, and SQLite writes "
            "its journal there; make it writable for this user",
            read_only=True,
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise UnusableSQLiteError(
            f"the SQLite database {path} is read-only and the bot must write to it; make it "
            "writable for this user",
            read_only=True,
        )


def create_engine(url: URL, *, application_name: str = "shopbot", **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite, with real transactions (DDL included) and foreign keys."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path is None:  # in memory: a new database per connection, as ever (tests only)
            kwargs.setdefault("poolclass", NullPool)
        elif "poolclass" not in kwargs:
            kwargs = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": -1, **kwargs}
        if url.get_driver_name() == "aiosqlite":
            kwargs.setdefault("module", one_trip_dbapi())
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_async_engine(url, **kwargs)
        _use_real_sqlite_transactions(engine)
        return engine
    connect_args = {"server_settings": {"application_name": application_name}}
    if "poolclass" not in kwargs:
        pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_MAX_OVERFLOW}
        kwargs = {**pool, "pool_timeout": POOL_TIMEOUT, **kwargs}
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    ping_when_idle(engine, PING_IDLE_SECONDS)
    defer_transactions(engine)  # first: a lock wait's SET LOCAL then begins the transaction
    _bound_postgresql_lock_waits(engine)
    return engine


def _bound_postgresql_lock_waits(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        lock_wait = connection.get_execution_options().get(LOCK_WAIT_MS)
        if lock_wait is not None:
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait)}")


def _use_real_sqlite_transactions(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe: the driver's own transaction handling is switched off
    and SQLAlchemy emits BEGIN itself, so DDL is transactional and a failed migration rolls back.
    """

    # Any: the driver's connection (aiosqlite's adapter) is untyped, and SQLAlchemy's
    # DBAPIConnection protocol has no `isolation_level`.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(NO_TRANSACTION):  # the driver runs each statement on its own
            return
        busy_timeout = int(options.get(LOCK_WAIT_MS, SQLITE_BUSY_TIMEOUT_MS))
        driver: Any = connection.connection.dbapi_connection
        if isinstance(driver, OneTripConnection):
            driver.wait_for_locks(busy_timeout)
        elif connection.info.get(_BUSY_TIMEOUT, SQLITE_BUSY_TIMEOUT_MS) != busy_timeout:
            # SQLAlchemy's own adapter (bench.updates' engine before): a round trip, only to change
            connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout}")
            connection.info[_BUSY_TIMEOUT] = busy_timeout
        if not options.get(BEGIN_IMMEDIATE):
            connection.exec_driver_sql("BEGIN")
            return
        # A deferred transaction that reads, then writes after another writer committed,
        # fails at once (SQLITE_BUSY_SNAPSHOT); taking the write lock at BEGIN makes it wait,
        # first on the event loop behind this process's other writers (bot.dao.sqlite_writer).
        writer = take_writer_lock(connection, busy_timeout)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:  # no transaction to end: the lock goes back now
            if writer is not None:
                writer.let_writer_go()
            raise


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def writing(engine: AsyncEngine) -> AsyncEngine:
    """The engine of the sessions that serve updates, on the same pool. On SQLite their
    transactions take the write lock when they begin: one writer at a time, and no
    transaction fails for having read first (SQLITE_BUSY_SNAPSHOT). On PostgreSQL a
    transaction begins at its first statement that is not a plain read (bot.dao.deferred):
    an update that only reads sends no BEGIN and no COMMIT."""
    if is_sqlite(engine.url):
        return engine.execution_options(**{BEGIN_IMMEDIATE: True})
    return engine.execution_options(**{DEFER_TRANSACTION: True})


def reading(engine: AsyncEngine) -> AsyncEngine:
    """The engine for an update's reads before its first write (see bot.dao.routing): no
    transaction around them, so no BEGIN, no COMMIT and no lock; each statement sees what was
    committed when it runs, as in PostgreSQL's READ COMMITTED. The same pool."""
    if is_sqlite(engine.url):
        return engine.execution_options(**{NO_TRANSACTION: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def serving_session_factory(
    engine: AsyncEngine, *, lock_wait: float | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions for serving updates, on `writing(engine)`; with `lock_wait` (seconds) a
    transaction waits at most that long for a lock, then fails with an OperationalError that
    the caller may retry. Their reads may be routed elsewhere: see bot.dao.routing."""
    options: dict[str, object] = {}
    if lock_wait is not None:
        options[LOCK_WAIT_MS] = max(1, round(lock_wait * 1000))
    return async_sessionmaker(
        writing(engine),
        expire_on_commit=False,
        execution_options=options,
        sync_session_class=RoutedSession,
    )
