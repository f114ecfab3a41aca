"""The periodic sweep that returns expired stock reservations to stock. Selling and reserving
already treat an expired reservation as free, so this only keeps the counts tidy and the rows
honest; a failed sweep is logged and tried again at the next tick."""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from bot.shop.intake import LOCK_WAIT, ShopTransactions
from bot.shop.stock import now

SWEEP_INTERVAL = 60.0


class ReservationSweep:
    def __init__(self, transactions: ShopTransactions, interval: float = SWEEP_INTERVAL) -> None:
        self.transactions = transactions
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """Release the expired reservations once; how many."""
        async with self.transactions(LOCK_WAIT) as shop:
            released = await shop.stock.release_expired(now())
        if released:
            logger.info("returned {} expired stock reservation(s) to stock", released)
        return released

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception as error:  # the database down for a while: next tick
                logger.warning("could not release expired reservations: {}", error)

    async def start(self) -> None:
        """Startup hook."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Shutdown hook."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
