"""The broadcasts' worker: takes a broadcast being sent that no instance holds (a new one, a
resumed one, one whose sender stopped or died) and sends it through the sender
(bot.telegram.broadcasts), looking again every POLL_INTERVAL seconds or when woken."""

from __future__ import annotations

import asyncio
import contextlib

from aiogram import Bot
from loguru import logger

from bot.telegram.broadcasts import BroadcastSender

POLL_INTERVAL = 2.0
STOP_WAIT = 10.0  # how long a stopping worker waits for the messages in flight


class BroadcastWorker:
    def __init__(self, sender: BroadcastSender) -> None:
        self.sender = sender
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def wake(self) -> None:
        """A broadcast was sent off or resumed: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self, bot: Bot) -> None:
        while not self.sender.stopping:
            try:
                broadcast = await self.sender.take()
                if broadcast is not None:
                    await self.sender.send(bot, broadcast)
                self._failing = False
            except Exception as error:  # the database down for a while: the next poll
                broadcast = None
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "could not send broadcasts ({}: {}); trying every {:g} s",
                        type(error).__name__,
                        " ".join(str(error).split())[:300],
                        POLL_INTERVAL,
                    )
            if broadcast is None and not self.sender.stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL):
                        await self._wake.wait()
                self._wake.clear()

    async def start(self, bot: Bot) -> None:
        """Startup hook."""
        self.sender.stopping = False
        self._task = asyncio.create_task(self._run(bot))

    async def stop(self) -> None:
        """Shutdown hook: the messages in flight finish and are recorded (up to STOP_WAIT
        seconds), then the broadcast is let go of, for the next start or another instance."""
        if self._task is not None:
            self.sender.stopping = True
            self._wake.set()
            await asyncio.wait([self._task], timeout=STOP_WAIT)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.sender.let_go()
