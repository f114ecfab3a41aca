"""The periodic sweep that returns expired stock reservations to stock. Selling and reserving
already treat an expired reservation as free, so this only keeps the counts tidy and the rows
honest; a failed sweep is logged and tried again at the next tick."""

from __future__ import annotations

from loguru import logger

from bot.shop.intake import LOCK_WAIT, ShopTransactions
from bot.shop.stock import now
from bot.workers.every import Every

SWEEP_INTERVAL = 60.0


class ReservationSweep:
    def __init__(self, transactions: ShopTransactions, interval: float = SWEEP_INTERVAL) -> None:
        self.transactions = transactions
        self._every = Every(interval, "could not release expired reservations")

    async def sweep(self) -> int:
        """Release the expired reservations once; how many."""
        async with self.transactions(LOCK_WAIT) as shop:
            released = await shop.stock.release_expired(now())
        if released:
            logger.info("returned {} expired stock reservation(s) to stock", released)
        return released

    async def start(self) -> None:
        """Startup hook."""
        self._every.start(self.sweep)

    async def stop(self) -> None:
        """Shutdown hook."""
        await self._every.stop()
