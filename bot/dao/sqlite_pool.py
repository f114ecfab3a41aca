"""SQLite connections given back to the pool without a needless trip to the driver's thread.

A pool rolls back every connection given back to it, in case a transaction is still open;
after a commit there is none, yet the rollback still costs a hop to aiosqlite's thread and
back (on a busy machine, as much as a statement). SQLite itself says whether a transaction is
open, so only then is it rolled back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState


def roll_back_only_open_transactions(engine: AsyncEngine) -> None:
    """For an engine made with `pool_reset_on_return=None`: the reset it then leaves to us."""

    # Any: the driver's connection (aiosqlite's adapter) is untyped.
    @event.listens_for(engine.sync_engine.pool, "reset")
    def _reset(dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
        if not state.asyncio_safe or state.transaction_was_reset:
            return  # being thrown away, or SQLAlchemy just ended its transaction itself
        if record.driver_connection is None or record.driver_connection.in_transaction:
            dbapi_connection.rollback()
