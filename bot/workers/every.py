"""A coroutine run every so many seconds while the bot runs, beside the updates: the loop, its
start and its stop, shared by the workers that tick (the reservation sweep, the gateways'
check, the users' visits). A tick that fails is logged in one line and the next one tries
again (the database down for a while)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger


class Every:
    def __init__(self, interval: float, failed: str) -> None:
        """`failed`: what the log says when a tick raises, before the error."""
        self.interval = interval
        self.failed = failed
        self._task: asyncio.Task[None] | None = None

    def start(self, tick: Callable[[], Awaitable[object]]) -> None:
        self._task = asyncio.create_task(self._run(tick))

    async def _run(self, tick: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await tick()
            except Exception as error:
                logger.warning("{}: {}: {}", self.failed, type(error).__name__, error)

    async def stop(self) -> None:
        """Stop ticking (a tick under way is cut short)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
