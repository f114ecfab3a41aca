"""Pooled connections that may have died while idle are checked before use; busy ones are not.

`pool_pre_ping` pays a round trip to the database at every checkout, on every update: a
quarter of what a one-query update sends PostgreSQL. The ping is worth it only for a
connection that sat idle, when the server may have restarted or a proxy dropped it. So a
connection given back more than `seconds` ago is pinged when it is checked out, and replaced
if it does not answer (as `pool_pre_ping` would); one given back moments ago is used as is.
If the server went away in between, the statement fails with a disconnect error, and
SQLAlchemy then invalidates every connection of the pool at once: only the updates in flight
at that moment fail, as they would with `pool_pre_ping` (a connection can die mid-transaction
too), and the next ones connect anew.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

_GIVEN_BACK_AT = "shopbot_given_back_at"


def ping_when_idle(engine: AsyncEngine, seconds: float) -> None:
    """Ping a pooled connection at checkout when it was idle for more than `seconds`."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    # Any: the driver's connection (the asyncpg adapter) is untyped.
    @event.listens_for(sync_engine.pool, "checkin")
    def _given_back(_dbapi_connection: Any, record: ConnectionPoolEntry | None) -> None:
        if record is not None:
            record.info[_GIVEN_BACK_AT] = time.monotonic()

    @event.listens_for(sync_engine.pool, "checkout")
    def _taken(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        given_back = record.info.get(_GIVEN_BACK_AT)
        if given_back is None or time.monotonic() - given_back <= seconds:
            return  # just connected, or busy a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (a new one if need be).
            raise exc.DisconnectionError(f"an idle connection did not answer: {error}") from error
