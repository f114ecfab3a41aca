"""Which asyncio task holds an open database transaction: what the guard against waiting on
Telegram inside a transaction asks (`bot.middlewares.bot_calls`)."""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# SQLAlchemy runs the async driver's work in a greenlet inside the awaiting task, so the
# events below see that task as the current one.
_holders: WeakKeyDictionary[Connection, asyncio.Task[object] | None] = WeakKeyDictionary()


def track_open_transactions(engine: AsyncEngine) -> None:
    """Note every transaction begun on `engine` until it commits or rolls back."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "begin", _began):
        return
    event.listen(sync_engine, "begin", _began)
    event.listen(sync_engine, "commit", _ended)
    event.listen(sync_engine, "rollback", _ended)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller
        return None


def _began(connection: Connection) -> None:
    _holders[connection] = _current_task()


def _ended(connection: Connection) -> None:
    _holders.pop(connection, None)


def held_by_current_task() -> bool:
    task = _current_task()
    return task is not None and any(holder is task for holder in list(_holders.values()))
