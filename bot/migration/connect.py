"""Opening the migration connection: retry what may pass, refuse at once what will not."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from loguru import logger
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import StartupError
from bot.migration.errors import (
    DatabaseConfigError,
    DatabaseUnreachableError,
    ReadOnlyDatabaseError,
)
from bot.migration.waiting import Backoff, wait_until

# SQLSTATE classes that retrying cannot fix: bad password or role (28), missing database (3D).
_PERMANENT_SQLSTATE_PREFIXES = ("28", "3D")
# The server is starting up, shutting down or out of connection slots: worth another try.
_TRANSIENT_SQLSTATES = {"57P03", "57P01", "53300", "08006", "08001", "08004"}
_BACKOFF = Backoff(first=0.2, cap=5.0)
_MIN_ATTEMPT_TIME = 5.0


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
    attempts = 0
    last_reason = ""

    async def attempt() -> AsyncConnection | None:
        nonlocal attempts, last_reason
        attempts += 1
        # asyncpg would wait 60s on an address that drops packets: keep to what is left of
        # our deadline, yet give even the last attempt a fair chance to answer.
        limit = max(deadline - (time.monotonic() - started), _MIN_ATTEMPT_TIME)
        try:
            async with asyncio.timeout(limit):
                return await engine.connect()
        except TimeoutError:
            last_reason = f"no answer within {limit:.0f}s"
        except (DBAPIError, OSError) as error:
            last_reason = database_message(error)
            if not is_transient(error):
                raise DatabaseConfigError(
                    f"cannot use the database {describe(engine)}: {last_reason}; check DATABASE_URL"
                ) from None
        return None

    async def report(waited: float) -> None:
        logger.warning(
            "database {} not reachable yet ({}); retrying for up to DB_CONNECT_TIMEOUT={:g}s, "
            "{:.0f}s so far",
            describe(engine),
            last_reason,
            deadline,
            waited,
        )

    async def expired(waited: float) -> StartupError:
        return DatabaseUnreachableError(
            f"the database {describe(engine)} is unreachable after {attempts} attempts in "
            f"{waited:.0f}s ({last_reason}); is it running? The wait is DB_CONNECT_TIMEOUT "
            "seconds"
        )

    connection, _ = await wait_until(
        attempt,
        waiting_for="the database to answer",
        timeout=deadline,
        backoff=_BACKOFF,
        report=report,
        expired=expired,
    )
    try:
        yield connection
    finally:
        await connection.close()


async def refuse_read_only(
    conn: AsyncConnection, error: Callable[[str], StartupError] = ReadOnlyDatabaseError
) -> None:
    """A replica or a read-only database cannot migrate, nor serve a bot that writes: raise
    `error(reason)` there."""
    if conn.dialect.name != "postgresql":
        return
    row = (
        await conn.execute(
            text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
        )
    ).one()
    await conn.rollback()
    if row[0]:
        raise error("it is a hot-standby replica, pg_is_in_recovery() is true")
    if row[1] == "on":
        raise error("default_transaction_read_only is on")
