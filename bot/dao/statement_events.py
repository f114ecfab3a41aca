"""A listener for each statement an engine sends, given what SQLAlchemy compiled it from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine

# The connection, and the statement object (a Select, an Insert, ...); None for SQL sent as
# a string (exec_driver_sql: BEGIN, PRAGMA, SET LOCAL).
StatementListener = Callable[[Connection, object | None], None]


def on_each_statement(
    engine: AsyncEngine,
    moment: Literal["before_cursor_execute", "after_cursor_execute"],
    listener: StatementListener,
) -> None:
    # Any: the driver's cursor and parameters are untyped.
    def _listener(
        connection: Connection,
        _cursor: Any,
        _statement: str,
        _parameters: Any,
        context: ExecutionContext | None,
        _executemany: bool,
    ) -> None:
        compiled = getattr(context, "compiled", None)
        listener(connection, getattr(compiled, "statement", None))

    event.listen(engine.sync_engine, moment, _listener)
