"""Taking in a successful payment so that it is never lost.

Write-ahead: the payment goes to the journal file first, then into the database, retried
with backoff while the database is briefly unavailable (locked, restarting, out of
connections) for at most `retry_window` seconds, then it is marked done in the journal. What
cannot be stored stays journaled and is recorded by `replay` at the next start. Every failure
path logs the charge id, the amount and the payer at ERROR, so admins can reconcile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from loguru import logger

from bot.dao.failures import is_transient
from bot.shop.journal import PaymentJournal
from bot.shop.payments import PaymentOutcome, Receipt, record_payment
from bot.shop.services import Shop

# One transaction of its own that waits at most that many seconds for a lock.
ShopTransactions = Callable[[float], AbstractAsyncContextManager[Shop]]

_FIRST_BACKOFF = 0.2
_MAX_BACKOFF = 2.0
# Each attempt waits this long at most for a lock, so a lock held for long is retried
# (and logged) rather than waited on in silence.
_LOCK_WAIT = (0.1, 2.0)


@dataclass(frozen=True)
class Journaled:
    """Not in the database yet: it stays in the journal and is recorded at the next start."""


IntakeOutcome = PaymentOutcome | Journaled


class PaymentIntake:
    def __init__(
        self, journal: PaymentJournal, transactions: ShopTransactions, retry_window: float
    ) -> None:
        self.journal = journal
        self.transactions = transactions
        self.retry_window = retry_window
        self._in_flight: dict[int, Receipt] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def handling(self, receipt: Receipt) -> AsyncIterator[None]:
        """Mark a payment's whole handling (recording and delivery) as in flight: `drain`
        waits for it before the process stops."""
        key = id(receipt)
        self._in_flight[key] = receipt
        self._idle.clear()
        try:
            yield
        finally:
            del self._in_flight[key]
            if not self._in_flight:
                self._idle.set()

    async def receive(self, receipt: Receipt) -> IntakeOutcome:
        try:
            await self.journal.append(receipt)
        except OSError as error:
            logger.error(
                "could not write {} to the payment journal {}: {}; recording it without",
                receipt.describe(),
                self.journal.path,
                error,
            )
        return await self.record(receipt)

    async def record(self, receipt: Receipt) -> IntakeOutcome:
        """Into the database within the retry window, then marked done in the journal."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_window
        backoff = _FIRST_BACKOFF
        while True:
            lock_wait = min(max(_LOCK_WAIT[0], deadline - loop.time()), _LOCK_WAIT[1])
            try:
                async with self.transactions(lock_wait) as shop:
                    outcome = await record_payment(shop, receipt.payer, receipt.payment)
                break
            except Exception as error:
                left = deadline - loop.time()
                if not is_transient(error) or left <= 0:
                    logger.error(
                        "could not record {} in the database ({}: {}); it stays in the payment "
                        "journal {} and is recorded at the next start",
                        receipt.describe(),
                        type(error).__name__,
                        " ".join(str(error).split())[:300],
                        self.journal.path,
                    )
                    return Journaled()
                logger.warning("database busy while recording {}; retrying", receipt.describe())
                await asyncio.sleep(min(backoff, left))
                backoff = min(backoff * 2, _MAX_BACKOFF)
        await self._done(receipt)
        return outcome

    async def _done(self, receipt: Receipt) -> None:
        try:
            await self.journal.done(receipt.payment.charge_id)
        except OSError as error:  # it is in the database: a replay finds it recorded
            logger.warning(
                "could not mark {} done in the payment journal: {}", receipt.describe(), error
            )

    async def pending(self) -> list[Receipt]:
        """At start: compact the journal, and return what it still holds."""
        return await asyncio.to_thread(self.journal.compact)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the payments in flight (on SIGTERM)."""
        if self._idle.is_set():
            return
        logger.info(
            "waiting up to {} s for {} payment(s) in progress", timeout, len(self._in_flight)
        )
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            for receipt in self._in_flight.values():
                logger.error(
                    "stopping before {} was handled; if it is not recorded, the payment "
                    "journal {} has it for the next start",
                    receipt.describe(),
                    self.journal.path,
                )
