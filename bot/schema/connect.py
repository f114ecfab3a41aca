"""Opening the migration connection: retry what may pass, refuse at once what will not."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from loguru import logger
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.schema.errors import DatabaseConfigError, DatabaseUnreachableError

# SQLSTATE classes that retrying cannot fix: bad password or role (28), missing database (3D).
_PERMANENT_SQLSTATE_PREFIXES = ("28", "3D")
# The server is starting up, shutting down or out of connection slots: worth another try.
_TRANSIENT_SQLSTATES = {"57P03", "57P01", "53300", "08006", "08001", "08004"}
_MAX_BACKOFF = 5.0


def root_cause(error: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers."""
    seen = error
    while True:
        nested = getattr(seen, "orig", None) or seen.__cause__
        if nested is None or nested is seen:
            return seen
        seen = nested


def database_message(error: BaseException) -> str:
    """The database's own words for an error, on one line."""
    cause = root_cause(error)
    text = str(cause).strip() or type(cause).__name__
    return " ".join(text.split())


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def is_transient(error: BaseException) -> bool:
    cause = root_cause(error)
    state = _sqlstate(cause)
    if state is not None:
        return state in _TRANSIENT_SQLSTATES
    if isinstance(cause, sqlite3.Error):
        return False
    return isinstance(cause, (OSError, TimeoutError, socket.gaierror, ConnectionError))


def describe(engine: AsyncEngine) -> str:
    """The database's URL with the password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


@asynccontextmanager
async def connect(engine: AsyncEngine, *, deadline: float) -> AsyncIterator[AsyncConnection]:
    """A connection on the running loop; transient failures are retried with backoff until
    `deadline` seconds have passed, permanent ones raise at once."""
    started = time.monotonic()
    delay = 0.2
    attempt = 0
    while True:
        attempt += 1
        try:
            connection = await engine.connect()
            break
        except (DBAPIError, OSError, TimeoutError) as error:
            reason = database_message(error)
            if not is_transient(error):
                raise DatabaseConfigError(
                    f"cannot use the database {describe(engine)}: {reason}; check DATABASE_URL"
                ) from None
            waited = time.monotonic() - started
            if waited + delay > deadline:
                raise DatabaseUnreachableError(
                    f"the database {describe(engine)} is unreachable after {attempt} attempts "
                    f"in {waited:.0f}s ({reason}); is it running? The wait is "
                    "DB_CONNECT_TIMEOUT seconds"
                ) from None
            logger.warning(
                "database {} not reachable yet ({}); retrying in {:.1f}s",
                describe(engine),
                reason,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
    try:
        yield connection
    finally:
        await connection.close()
