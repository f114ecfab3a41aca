"""The outbox's worker: claims the rows that fall due (what could not be sent right after its
transaction, a broadcast, a row another instance let go of) and sends them through the
sender (bot.telegram.outbox), looking again every POLL_INTERVAL seconds or when woken."""

from __future__ import annotations

import asyncio
import contextlib

from aiogram import Bot
from loguru import logger

from bot.telegram.outbox import BATCH, Outbox

POLL_INTERVAL = 2.0  # how often the worker looks for due rows when nothing wakes it
STOP_WAIT = 10.0  # how long a stopping worker may take to finish its round


class OutboxWorker:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._stopping = False

    def wake(self) -> None:
        """New rows are due: the worker looks now rather than at its next poll."""
        self._wake.set()

    async def _run(self, bot: Bot) -> None:
        while not self._stopping:
            claimed = 0
            try:
                claimed = await self.outbox.send_due(bot)
                self._healthy()
            except Exception as error:  # the database down for a while: the next poll
                self._failed_poll(error)
            if claimed < BATCH and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL):
                        await self._wake.wait()
                self._wake.clear()

    def _healthy(self) -> None:
        if self._failing:
            self._failing = False
            logger.info("the outbox is being sent again")

    def _failed_poll(self, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            logger.warning(
                "could not look for outbox rows to send ({}: {}); trying every {:g} s",
                type(error).__name__,
                " ".join(str(error).split())[:300],
                POLL_INTERVAL,
            )

    async def start(self, bot: Bot) -> None:
        """Startup hook."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(bot))

    async def stop(self) -> None:
        """Shutdown hook: let the worker finish the round it is sending (up to STOP_WAIT
        seconds; cut short, what it sent is sent again), then let go of the rows this
        instance held, so the next start (or another instance) sends them at once instead of
        after the lease."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await asyncio.wait([self._task], timeout=STOP_WAIT)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.outbox.release()
