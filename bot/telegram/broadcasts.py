"""Sending a broadcast: one instance at a time holds it (bot.dao.broadcasts), sends its message
to the recipients still pending, in the order they were queued, at the broadcast rate, and
records each outcome within FLUSH_EVERY seconds, renewing its hold in the same transaction.

Paid orders go first: the goods and notices the outbox sends from this instance take the
broadcast's next turn (`Pace.give_way`), and the rate stays under Telegram's limit. A 429
holds the whole broadcast for `retry_after`, not just the message refused; the message is
then sent again. A stopped, paused or killed sender leaves the recipients it did not record
pending: whoever holds the broadcast next sends to them. A message that reached Telegram in
the moment before its outcome was recorded (a SIGKILL then) is sent again: that moment, at
most FLUSH_EVERY seconds of sends, is the only way anyone gets it twice. A send that may have
reached Telegram and failed on the way back (a timeout) is not sent again: counted failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from loguru import logger

from bot.dao.broadcast_models import (
    BROADCAST_DONE,
    BROADCAST_SENDING,
    RECIPIENT_BLOCKED,
    RECIPIENT_FAILED,
    RECIPIENT_SENT,
    Broadcast,
)
from bot.dao.broadcasts import Progress, Recipient
from bot.dao.models import OUTBOX_TEXT
from bot.dao.outbox import NewMessage
from bot.i18n import default_language, speaking
from bot.migration.locks import holder_name
from bot.shop import Shop
from bot.shop.intake import LOCK_WAIT, ShopTransactions
from bot.shop.stock import now
from bot.telegram.outbox import Outbox
from bot.telegram.outgoing import Part
from bot.telegram.pace import Pace
from bot.telegram.retries import describe, is_transient, may_have_arrived, retried_by_caller

# The message a broadcast sends, read in a transaction when its sending starts.
Compose = Callable[[Shop, Broadcast, Bot], Awaitable[Part]]
# The admin's view of a broadcast: its report's text and buttons (none once it is over).
Report = Callable[[int, str, Progress], tuple[str, InlineKeyboardMarkup | None]]

FETCH = 500  # recipients read at a time
FLUSH_EVERY = 0.2  # seconds between records of outcomes: what a SIGKILL may send twice
REPORT_EVERY = 3.0  # seconds between edits of the admin's progress message
ATTEMPTS = 3  # tries of one message failing with a 5xx or the network
BACKOFF = 1.0  # seconds the broadcast waits after such a failure, doubled each time
# A send may take this long to be answered: so many are kept in flight that the rate holds
# (the pace caps it), within the HTTP session's 100 connections.
ROUND_TRIP = 0.5
MOST_IN_FLIGHT = 100


def messages_in_flight(per_second: float) -> int:
    return max(2, min(MOST_IN_FLIGHT, math.ceil(per_second * ROUND_TRIP)))


@dataclass
class _Outcomes:
    """Outcomes not recorded yet: recipient ids by state, errors, chats that blocked us."""

    by_state: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    blocked_chats: set[int] = field(default_factory=set)

    def add(self, recipient: Recipient, state: str, error: str | None = None) -> None:
        self.by_state.setdefault(state, []).append(recipient.id)
        if error is not None:
            self.errors[recipient.id] = error
        if state == RECIPIENT_BLOCKED:
            self.blocked_chats.add(recipient.chat_id)

    def __bool__(self) -> bool:
        return bool(self.by_state)


def _counted(progress: Progress, outcomes: _Outcomes) -> Progress:
    sent, failed, blocked = (
        len(outcomes.by_state.get(state, ()))
        for state in (RECIPIENT_SENT, RECIPIENT_FAILED, RECIPIENT_BLOCKED)
    )
    return replace(
        progress,
        sent=progress.sent + sent,
        failed=progress.failed + failed,
        blocked=progress.blocked + blocked,
        left=progress.left - sent - failed - blocked,
    )


class BroadcastSender:
    def __init__(
        self,
        transactions: ShopTransactions,
        outbox: Outbox,
        pace: Pace,
        *,
        compose: Compose,
        report: Report,
        lease: float,
        at_once: int,
    ) -> None:
        self.transactions = transactions
        self.outbox = outbox
        self.pace = pace
        self.compose = compose
        self.report = report
        self.lease = lease
        self.at_once = at_once  # messages in flight at a time
        self.owner = holder_name("shopbot-broadcast", secrets.token_hex(4))
        self.stopping = False

    async def take(self) -> Broadcast | None:
        """A broadcast to send that nobody holds, now held by this instance."""
        moment = now()
        async with self.transactions(LOCK_WAIT) as shop:
            return await shop.broadcasts.take(
                self.owner, moment, moment + timedelta(seconds=self.lease)
            )

    async def let_go(self) -> None:
        try:
            async with self.transactions(LOCK_WAIT) as shop:
                await shop.broadcasts.let_go(self.owner)
        except Exception as error:
            logger.warning("could not let go of the broadcast this instance held: {}", error)

    async def send(self, bot: Bot, broadcast: Broadcast) -> None:
        """Send it until nobody is left, it is paused or cancelled, or this instance stops."""
        async with self.transactions(LOCK_WAIT) as shop:
            part = await self.compose(shop, broadcast, bot)
            progress = await shop.broadcasts.progress(broadcast.id)
            languages = await shop.users.languages_of([broadcast.author_id])
        language = languages.get(broadcast.author_id, default_language())
        run = _Run(self, bot, broadcast, replace(part, paid=broadcast.paid), progress, language)
        logger.info(
            "sending broadcast #{} to {} user(s) left of {}",
            broadcast.id,
            progress.left,
            progress.total,
        )
        await run.go()


class _Run:
    """One instance's turn at sending one broadcast."""

    def __init__(
        self,
        sender: BroadcastSender,
        bot: Bot,
        broadcast: Broadcast,
        part: Part,
        progress: Progress,
        language: str,
    ) -> None:
        """`language`: the author's, their reports'."""
        self.sender = sender
        self.bot = bot
        self.broadcast = broadcast
        self.part = part
        self.progress = progress  # as recorded
        self.state = BROADCAST_SENDING  # as last read
        self.language = language
        self.outcomes = _Outcomes()
        self._flushing = asyncio.Lock()
        self.lost = False  # another instance took it over
        self._reported: tuple[float, Progress, str] = (-1.0, Progress(), "")

    def over(self) -> bool:
        return self.sender.stopping or self.lost or self.state != BROADCAST_SENDING

    async def go(self) -> None:
        sent_all = asyncio.Event()
        # Never cancelled mid-flush: outcomes taken out for a record that was cut short
        # would be lost, and those recipients sent it again.
        flusher = asyncio.create_task(self._flush_until(sent_all))
        nobody_left = False
        try:
            while not self.over():
                await self._flush()
                if self.outcomes:  # unrecorded: a new pass would read them as pending
                    await asyncio.sleep(FLUSH_EVERY)
                    continue
                if not await self._one_pass():
                    nobody_left = True
                    break
        finally:
            sent_all.set()
            await flusher  # its last flush records what the loop sent
        if nobody_left and not self.over():
            await self._finish()
        if not self.lost and self.state != BROADCAST_SENDING:  # paused, cancelled, done
            await self._let_go()
        await self._edit_report(force=True)

    async def _let_go(self) -> None:
        """Its outcomes recorded, let the broadcast go: resumed, it is taken at once."""
        try:
            async with self.sender.transactions(LOCK_WAIT) as shop:
                await shop.broadcasts.let_go(self.sender.owner, self.broadcast.id)
        except Exception as error:  # taken again once the lease runs out
            logger.warning("broadcast #{}: could not let it go ({})", self.broadcast.id, error)

    async def _one_pass(self) -> bool:
        """Send to every recipient pending now; False when there was none."""
        after, any_left = 0, False
        in_flight: set[asyncio.Task[None]] = set()
        turns = asyncio.Semaphore(self.sender.at_once)
        while not self.over():
            async with self.sender.transactions(LOCK_WAIT) as shop:
                batch = await shop.broadcasts.pending(self.broadcast.id, after, FETCH)
            if not batch:
                break
            any_left = True
            for recipient in batch:
                await turns.acquire()
                if self.over():
                    turns.release()
                    break
                await self.sender.pace.turn()
                task = asyncio.create_task(self._send_to(recipient))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(lambda _: turns.release())
            after = batch[-1].id
        if in_flight:
            await asyncio.gather(*in_flight)
        return any_left

    async def _send_to(self, recipient: Recipient) -> None:
        failures = 0
        while True:
            try:
                with retried_by_caller():
                    await self.part.send(self.bot, recipient.chat_id)
            except TelegramRetryAfter as error:  # the whole broadcast waits, then this again
                self.sender.pace.hold(float(error.retry_after))
                logger.warning(
                    "broadcast #{}: flood control, waiting {} s",
                    self.broadcast.id,
                    error.retry_after,
                )
            except TelegramAPIError as error:
                reason = describe(error, self.bot.token)
                if isinstance(error, TelegramForbiddenError):
                    self.outcomes.add(recipient, RECIPIENT_BLOCKED, reason)
                    return
                if not is_transient(error) or may_have_arrived(error) or failures >= ATTEMPTS:
                    self.outcomes.add(recipient, RECIPIENT_FAILED, reason)
                    return
                failures += 1
                self.sender.pace.hold(BACKOFF * 2 ** (failures - 1))
            else:
                self.outcomes.add(recipient, RECIPIENT_SENT)
                return
            if self.over():
                return  # left pending: whoever sends it next tries again
            await self.sender.pace.turn()

    async def _flush_until(self, done: asyncio.Event) -> None:
        """Every FLUSH_EVERY seconds, and once more when `done`: record, then report."""
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_EVERY):
                    await done.wait()
            await self._flush()
            await self._edit_report()

    async def _flush(self) -> None:
        """Record the outcomes so far and renew the hold, in one transaction; learn whether
        it was paused or cancelled meanwhile. One at a time: when it returns, every outcome
        from before the call is recorded (or kept for the next), so reading the recipients
        still pending then cannot find one that was sent."""
        async with self._flushing:
            await self._record()

    async def _record(self) -> None:
        if self.lost:
            return
        outcomes, self.outcomes = self.outcomes, _Outcomes()
        moment = now()
        try:
            async with self.sender.transactions(LOCK_WAIT) as shop:
                state = await shop.broadcasts.hold(
                    self.broadcast.id,
                    self.sender.owner,
                    moment + timedelta(seconds=self.sender.lease),
                )
                if state is not None:
                    await shop.broadcasts.mark(
                        self.broadcast.id, outcomes.by_state, outcomes.errors
                    )
                    if outcomes.blocked_chats:
                        await shop.users.mark_blocked(outcomes.blocked_chats, moment)
        except Exception as error:  # kept for the next flush; past the lease, sent again
            logger.warning(
                "broadcast #{}: could not record its progress ({}: {})",
                self.broadcast.id,
                type(error).__name__,
                error,
            )
            self._keep(outcomes)
            return
        if state is None:
            logger.warning("broadcast #{} was taken over by another instance", self.broadcast.id)
            self.lost = True
            return
        self.state = state
        self.progress = _counted(self.progress, outcomes)

    def _keep(self, outcomes: _Outcomes) -> None:
        for state, ids in outcomes.by_state.items():
            self.outcomes.by_state.setdefault(state, []).extend(ids)
        self.outcomes.errors.update(outcomes.errors)
        self.outcomes.blocked_chats |= outcomes.blocked_chats

    async def _finish(self) -> None:
        """Mark it done (once: whoever's change it is) and tell its author, through the
        outbox, with the final report."""
        with speaking(self.language):
            text, _ = self.sender.report(self.broadcast.id, BROADCAST_DONE, self.progress)
        async with self.sender.transactions(LOCK_WAIT) as shop:
            done = await shop.broadcasts.change_state(
                self.broadcast.id, [BROADCAST_SENDING], BROADCAST_DONE, now()
            )
            rows = []
            if done:
                self.state = BROADCAST_DONE
                message = NewMessage(OUTBOX_TEXT, self.broadcast.author_id, text=text)
                rows = await self.sender.outbox.write(shop, [message])
        if done:
            logger.info("broadcast #{} is done: {}", self.broadcast.id, self.progress)
            await self.sender.outbox.send_now(self.bot, rows)

    async def _edit_report(self, *, force: bool = False) -> None:
        """Edit the admin's progress message, every REPORT_EVERY seconds while it changes."""
        chat_id, message_id = self.broadcast.report_chat_id, self.broadcast.report_message_id
        loop_now = asyncio.get_running_loop().time()
        shown = (self.progress, self.state)
        last_at, *last = self._reported
        if chat_id is None or message_id is None or self.lost or tuple(last) == shown:
            return
        if not force and loop_now - last_at < REPORT_EVERY:
            return
        self._reported = (loop_now, *shown)
        with speaking(self.language):
            text, markup = self.sender.report(self.broadcast.id, self.state, self.progress)
        try:
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
        except TelegramAPIError as error:  # deleted, not modified: the next report tries again
            logger.info(
                "broadcast #{}: progress not shown ({})",
                self.broadcast.id,
                describe(error, self.bot.token),
            )
