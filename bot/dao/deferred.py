"""PostgreSQL: a transaction that begins at its first statement that is not a plain read.

Most updates only read (the catalog, a page, a product card, the /start of a user the shop
knows), and BEGIN and COMMIT were two of their three or four round trips. On a connection of
an engine with `DEFER_TRANSACTION`, plain reads run in autocommit until the first statement
that may write or lock: an INSERT, UPDATE or DELETE, a `SELECT ... FOR UPDATE`, a SAVEPOINT,
any text statement. Before that one runs, the same connection leaves autocommit, so the driver
begins the transaction with it, and from there on everything commits or rolls back together.

Nothing a reader sees changes: in READ COMMITTED (the default, and all the bot uses) a read
inside a transaction also sees what was committed when it ran, as an autocommit read does;
what must not change between a read and a write is read `FOR UPDATE` or guarded by a
constraint, and such a read begins the transaction. One connection serves the session
throughout, so a bounded pool never waits on itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from bot.dao.routing import plain_read
from bot.dao.statement_events import on_each_statement

DEFER_TRANSACTION = "shopbot_defer_transaction"  # the engine's execution option
_DEFERRING = "shopbot_deferring"  # in a pooled connection's info while its BEGIN waits


def defer_transactions(engine: AsyncEngine) -> None:
    """Let connections of `engine` with the `DEFER_TRANSACTION` option defer their BEGIN.

    The asyncpg adapter begins a transaction lazily, at the first statement, unless it is in
    autocommit; switching that flag sends nothing to the server."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(DEFER_TRANSACTION):
            _driver(connection).autocommit = True
            connection.info[_DEFERRING] = True

    def _before_statement(connection: Connection, statement: object | None) -> None:
        if connection.info.get(_DEFERRING) and not plain_read(statement):
            del connection.info[_DEFERRING]
            _driver(connection).autocommit = False  # this statement begins the transaction

    on_each_statement(engine, "before_cursor_execute", _before_statement)

    # Any: the driver's connection (the asyncpg adapter) is untyped.
    @event.listens_for(sync_engine.pool, "checkin")
    def _given_back(dbapi_connection: Any, record: ConnectionPoolEntry | None) -> None:
        deferring = record is not None and record.info.pop(_DEFERRING, False)
        if deferring and dbapi_connection is not None:  # None: invalidated (a statement cut)
            dbapi_connection.autocommit = False  # the next user gets a plain connection


def _driver(connection: Connection) -> Any:
    return connection.connection.dbapi_connection
