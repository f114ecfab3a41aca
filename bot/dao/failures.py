"""Database errors that a moment's wait may cure: a lock, a busy pool, a lost connection."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# PostgreSQL SQLSTATEs (or their two-character classes) worth another try: connection
# exceptions, insufficient resources, lock not available, canceled or shut down, conflicts.
_TRANSIENT_SQLSTATES = ("08", "53", "55P03", "57014", "57P01", "57P02", "57P03", "40001", "40P01")


def is_transient(error: BaseException) -> bool:
    """True for a database that is locked, restarting, unreachable or out of connections;
    False for what retrying cannot change (a constraint, a missing table, bad SQL)."""
    if isinstance(error, PoolTimeoutError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause = error.orig
        if isinstance(cause, sqlite3.OperationalError):
            return "locked" in str(cause) or "busy" in str(cause)
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str):
            return state.startswith(_TRANSIENT_SQLSTATES)
        return is_transient(cause) if isinstance(cause, BaseException) else False
    return isinstance(error, (OSError, ConnectionError, TimeoutError))
