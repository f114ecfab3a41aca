"""Long polling among several instances: only the elected poller runs aiogram's polling loop.

A standby keeps its schema check fresh and says who polls; once it wins the election it polls
from Telegram's stored offset (aiogram's first getUpdates carries none), so an update the last
poller confirmed is never fetched again and one it never took is not lost. The poller stops
polling at once when its lock is lost (the database connection broke) and stands by again. On
a stop (SIGTERM/SIGINT, aiogram cancels polling) it confirms what it has taken and lets go of
the lock before the shutdown hooks run, so a standby takes over while it finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.config import Settings
from bot.errors import StartupError
from bot.serving.election import ROUND_TIMEOUT, PollerElection, poller_lock
from bot.serving.health import SCHEMA_AT_HEAD, Readiness

# A standby reads the schema's revision this often.
SCHEMA_CHECK_INTERVAL = 10.0
# The confirming getUpdates a poller sends as it steps down waits this long at most.
CONFIRM_TIMEOUT = 3.0


class SchemaCheck:
    """Whether the schema still fits this code (at head, or at an unknown revision with
    ALLOW_UNKNOWN_REVISION): a newer release may have migrated while we stood by. It keeps
    /readyz's `schema` current and says why a standby does not take over, once per change."""

    def __init__(
        self,
        engine: AsyncEngine,
        options: migration.MigrationOptions,
        readiness: Readiness,
        *,
        interval: float = SCHEMA_CHECK_INTERVAL,
    ) -> None:
        self._engine = engine
        self._options = options
        self._readiness = readiness
        self._interval = interval
        self._fits = True  # the start-up hooks have just verified it
        self._checked = asyncio.get_running_loop().time()

    async def fits(self, *, fresh: bool = False) -> bool:
        """The last answer, read again when `interval` has passed or when `fresh`."""
        now = asyncio.get_running_loop().time()
        if fresh or now - self._checked >= self._interval:
            self._checked = now
            await self._read()
        return self._fits

    async def _read(self) -> None:
        try:
            async with asyncio.timeout(ROUND_TIMEOUT):
                found = await migration.status(self._engine, self._options)
        except (StartupError, TimeoutError):  # the database is away: /readyz says so
            return
        fits = found.at_head or bool(found.unknown and self._options.allow_unknown_revision)
        if fits != self._fits:
            if fits:
                logger.info("schema fits this code again ({}); may take over", found.describe())
            else:
                logger.warning(
                    "schema no longer fits this code ({}); standing by without taking over "
                    "(restart with the release that matches it)",
                    found.describe(),
                )
        self._fits = fits
        self._readiness.schema = SCHEMA_AT_HEAD if fits else found.describe()


async def confirm_taken(bot: Bot, last_update_id: int | None) -> None:
    """Tell Telegram we have taken every update up to `last_update_id`. aiogram confirms a
    batch with its next getUpdates; stopped before sending it, the next poller would fetch
    the batch again."""
    if last_update_id is None:
        return
    try:
        async with asyncio.timeout(CONFIRM_TIMEOUT):
            await bot.get_updates(offset=last_update_id + 1, limit=1, timeout=0)
    except (TelegramAPIError, TimeoutError, OSError) as error:
        logger.warning(
            "could not confirm updates up to {} before letting go ({}); the next poller may "
            "get them again",
            last_update_id,
            error,
        )


class Standby:
    """Runs aiogram's polling only while this instance is the elected poller."""

    def __init__(self, election: PollerElection, schema: SchemaCheck, readiness: Readiness) -> None:
        self._election = election
        self._schema = schema
        self._readiness = readiness

    async def serve(
        self,
        bot: Bot,
        poll: Callable[[], Coroutine[object, object, None]],
        last_taken: Callable[[], int | None],
    ) -> None:
        """Stand by, poll while elected, stand by again when the lock is lost; until stopped
        (aiogram cancels us on SIGTERM/SIGINT), or until polling or the watch fails."""
        while True:
            await self._election.win(
                may_try=self._schema.fits, may_lead=lambda: self._schema.fits(fresh=True)
            )
            self._readiness.role = "poller"
            logger.info("this instance is the poller now: polling for updates")
            polling = asyncio.create_task(poll())
            stop_watching = asyncio.Event()
            watch = asyncio.create_task(self._election.watch(stop_watching))
            try:
                await asyncio.wait({polling, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._readiness.role = "standby"
                polling.cancel()
                stop_watching.set()
                await asyncio.gather(polling, watch, return_exceptions=True)
                was_lost = _found_lost(watch)
                if not was_lost:  # after a loss a standby may poll already: no 409 for it
                    await confirm_taken(bot, last_taken())
                await self._election.step_down()
                logger.info("let go of the poller lock")
            if not was_lost:  # not a stop, which cancels us: polling or the watch failed
                _raise_failure(polling, watch)
                return
            logger.warning(
                "lost the poller lock (its database connection broke): stopped polling at "
                "once; standing by"
            )


def _found_lost(watch: asyncio.Task[bool]) -> bool:
    """True when the watch ended by finding the lock lost (not stopped, not failed)."""
    return watch.done() and not watch.cancelled() and watch.exception() is None and watch.result()


def _raise_failure(*tasks: asyncio.Task[object]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            task.result()


def standby_for(
    bot: Bot, engine: AsyncEngine, settings: Settings, readiness: Readiness
) -> Standby | None:
    """The election for `bot` among the instances on `engine`'s database; None when no other
    process can share it (in-memory SQLite): this instance simply polls. Until it wins, the
    instance is a standby."""
    lock = poller_lock(engine, bot.id)
    if lock is None:
        return None
    readiness.role = "standby"
    options = migration.MigrationOptions.from_settings(settings)
    return Standby(PollerElection(lock), SchemaCheck(engine, options, readiness), readiness)
