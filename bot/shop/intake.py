"""Taking in a successful payment so that it is never lost.

Write-ahead: the payment goes to the journal file first, then into the database, retried
with backoff while the database is briefly unavailable (locked, restarting, out of
connections) for at most `retry_window` seconds, together with what it must send (the
outbox), then it is marked done in the journal. What cannot be stored stays journaled and is
recorded by `replay` (every REPLAY_INTERVAL, and at the next start). Every failure
path logs the charge id, the amount and the payer at ERROR, so admins can reconcile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from loguru import logger
from sqlalchemy.exc import IntegrityError

from bot.dao.failures import is_transient
from bot.dao.outbox import Outgoing
from bot.shop.journal import PaymentJournal, Pending
from bot.shop.purchases import PaymentOutcome, Receipt, record_payment
from bot.shop.services import Shop

# One transaction of its own that waits at most that many seconds for a lock.
ShopTransactions = Callable[[float], AbstractAsyncContextManager[Shop]]
# Seconds a transaction of a background worker or a payment callback waits for a lock.
LOCK_WAIT = 5.0

_FIRST_BACKOFF = 0.2
_MAX_BACKOFF = 2.0
# Each attempt waits this long at most for a lock, so a lock held for long is retried
# (and logged) rather than waited on in silence.
_LOCK_WAIT = (0.1, 2.0)


@dataclass(frozen=True)
class Journaled:
    """Not in the database yet: it stays in the journal and is recorded by the next replay
    (every REPLAY_INTERVAL seconds, and at start)."""


@dataclass(frozen=True)
class Unsaved:
    """Neither in the journal (it could not be written) nor in the database: only the log
    and the admins' notice hold it; a person must deliver it."""


@dataclass(frozen=True)
class Taken:
    """In the database, with what it must send (claimed by this instance) in the outbox."""

    outcome: PaymentOutcome
    outgoing: list[Outgoing]


IntakeOutcome = Taken | Journaled | Unsaved
# What a recorded payment must send, written in its transaction (bot.payments.outcomes).
OutboxWriter = Callable[[Shop, Receipt, PaymentOutcome], Awaitable[list[Outgoing]]]
# How often payments left in the journal are tried again while the bot runs.
REPLAY_INTERVAL = 60.0


class PaymentIntake:
    def __init__(
        self,
        journal: PaymentJournal,
        transactions: ShopTransactions,
        retry_window: float,
        write_outbox: OutboxWriter,
    ) -> None:
        self.journal = journal
        self.transactions = transactions
        self.write_outbox = write_outbox
        self.retry_window = retry_window
        self._in_flight: dict[tuple[str, int], int] = {}  # (charge, update) -> depth
        self._receipts: dict[tuple[str, int], Receipt] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._journaled: set[str] = set()  # charges this process wrote to the journal

    @asynccontextmanager
    async def handling(self, receipt: Receipt) -> AsyncIterator[None]:
        """Mark a payment's whole handling (journaling, recording and delivery) as in flight:
        `drain` waits for it before the process stops, and replays leave it alone. Nested
        marks of the same update count once."""
        key = (receipt.payment.charge_id, receipt.update_id)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self._receipts[key] = receipt
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key], self._receipts[key]
            if not self._in_flight:
                self._idle.set()

    def in_flight(self, charge_id: str) -> bool:
        """Whether a handling of this charge is under way."""
        return any(charge == charge_id for charge, _update in self._in_flight)

    async def journal_first(self, receipt: Receipt) -> bool:
        """Write the payment to the journal (once per charge in this process); False when
        it could not be written."""
        charge = receipt.payment.charge_id
        if charge in self._journaled:
            return True
        try:
            await self.journal.append(receipt)
        except OSError as error:
            logger.error(
                "could not write {} to the payment journal {}: {}; recording it without",
                receipt.describe(),
                self.journal.path,
                error,
            )
            return False
        self._journaled.add(charge)
        return True

    async def receive(self, receipt: Receipt) -> IntakeOutcome:
        journaled = await self.journal_first(receipt)
        outcome = await self.record(receipt)
        return Unsaved() if isinstance(outcome, Journaled) and not journaled else outcome

    async def record(self, receipt: Receipt) -> IntakeOutcome:
        """Into the database within the retry window, then marked done in the journal."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_window
        backoff = _FIRST_BACKOFF
        conflicted = False
        while True:
            lock_wait = min(max(_LOCK_WAIT[0], deadline - loop.time()), _LOCK_WAIT[1])
            try:
                async with self.transactions(lock_wait) as shop:
                    outcome = await record_payment(shop, receipt.payer, receipt.payment)
                    outgoing = await self.write_outbox(shop, receipt, outcome)
                break
            except Exception as error:
                # What it read changed before it wrote (its product hard-deleted meanwhile):
                # read again at once, rather than leave it to the next replay.
                if isinstance(error, IntegrityError) and not conflicted:
                    conflicted = True
                    logger.warning(
                        "{} met a concurrent change; recording it again", receipt.describe()
                    )
                    continue
                left = deadline - loop.time()
                if not is_transient(error) or left <= 0:
                    logger.error(
                        "could not record {} in the database ({}: {}); it stays in the payment "
                        "journal {} and is recorded by the next replay (every minute, and at "
                        "start)",
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
        return Taken(outcome, outgoing)

    async def _done(self, receipt: Receipt) -> None:
        try:
            await self.journal.done(receipt.payment.charge_id)
        except OSError as error:  # it is in the database: a replay finds it recorded
            logger.warning(
                "could not mark {} done in the payment journal: {}", receipt.describe(), error
            )

    async def delivered(self, receipt: Receipt) -> None:
        """What the payment must send is in the outbox (or its refund is done): the journal
        may forget it."""
        try:
            await self.journal.delivered(receipt.payment.charge_id)
        except OSError as error:  # a replay delivers it once more: harmless
            logger.warning(
                "could not mark {} delivered in the payment journal: {}", receipt.describe(), error
            )

    async def pending(self, *, compact: bool) -> list[Pending]:
        """What the journal holds that was not delivered and is not being handled now; at
        start the journal is compacted first."""
        read = self.journal.compact if compact else self.journal.pending
        found = await asyncio.to_thread(read)
        return [item for item in found if not self.in_flight(item.receipt.payment.charge_id)]

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the payments in flight (on SIGTERM)."""
        if self._idle.is_set():
            return
        logger.info(
            "waiting up to {} s for {} payment(s) in progress", timeout, len(self._receipts)
        )
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            for receipt in self._receipts.values():
                logger.error(
                    "stopping before {} was handled; the payment journal {} has it, and the "
                    "next start records and delivers it",
                    receipt.describe(),
                    self.journal.path,
                )
