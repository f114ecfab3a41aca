"""Sending what the outbox holds: right after the transaction that wrote it, and, when the
worker (bot.workers.outbox) claims them, whatever could not go then (Telegram flooding or
down, a crash, a restart, an instance that stopped).

A row is sent by whoever claimed it (bot.dao.outbox). Within a claim, the bot session's
RetryMiddleware retries flood control and server errors until the claim's send-by moment;
past it the row is postponed (to Telegram's `retry_after`, else a backoff growing with its
attempts) and claimed again when due, by this instance or another. A refusal (the user
blocked the bot, the chat is gone) fails the row at once: it is never retried. Delivery is at
least once: a message whose send may have reached Telegram before failing (a timeout, a crash
before the progress was recorded) is sent again rather than lost. A buyer whose goods are
refused for good for another reason than having blocked the bot (e.g. a file Telegram no
longer takes) is told, by a text row written with the failure, to get them from 🧾 My
purchases.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter
from loguru import logger

from bot.dao.models import OUTBOX_GOODS, OUTBOX_TEXT
from bot.dao.outbox import NewMessage, OutboxDAO, Outgoing
from bot.i18n import __, default_language, speaking
from bot.migration.locks import holder_name
from bot.shop import Shop
from bot.shop.intake import LOCK_WAIT, ShopTransactions
from bot.shop.stock import now
from bot.telegram.outgoing import Part
from bot.telegram.pace import Pace
from bot.telegram.retries import answering_by, describe, is_transient

# What a row of a kind turns into, read in a transaction when it is sent; None when there is
# nothing to send any more (a refunded purchase, a product gone).
Renderer = Callable[[Shop, Outgoing], Awaitable[list[Part] | None]]

BATCH = 50  # rows per claim
CHATS_AT_ONCE = 8  # chats sent to concurrently; one chat's rows go in order
# The worker's sends per instance, under Telegram's ~30 messages a second for a bot: a restock
# broadcast to thousands goes out at this pace.
SENDS_PER_SECOND = 25.0
SEND_SHARE = 0.75  # of a claim's lease spent sending; the rest is margin to record it
FIRST_RETRY = 5.0
MAX_RETRY = 600.0
_WAITS_FOR_EARLIER = "waits for an earlier message to this chat"
# To a buyer whose goods could not be delivered (lazy: in the buyer's language when used).
GET_IT_AGAIN = __(
    "Sorry, your purchase could not be delivered here in full. Open 🧾 My purchases and tap "
    "it to get it again."
)


@dataclass(frozen=True)
class _Outcome:
    """What became of a claimed row in one round: sent; failed for good (`error`, no
    `retry_at`); or to be tried again from `retry_at`. `parts_sent`: how many of its messages
    went out, so a retry goes on from there. `tell_buyer`: goods failed for good, and the
    buyer can still be reached."""

    row: Outgoing
    parts_sent: int
    error: str | None = None
    retry_at: datetime | None = None
    tell_buyer: bool = False
    blocked: bool = False  # the chat's user blocked the bot

    async def record(self, outbox: OutboxDAO, owner: str, moment: datetime) -> bool:
        """False when the row is no longer `owner`'s."""
        row_id = self.row.id
        if self.retry_at is not None:
            return await outbox.postpone(
                row_id, owner, self.parts_sent, self.retry_at, self.error or ""
            )
        if self.error is not None:
            return await outbox.failed(row_id, owner, self.parts_sent, self.error)
        return await outbox.sent(row_id, owner, self.parts_sent, moment)


def sender_name() -> str:
    """Who claims rows: unique per process start (a restarted container may reuse a pid)."""
    return holder_name("shopbot-outbox", secrets.token_hex(4))


class Outbox:
    def __init__(
        self,
        transactions: ShopTransactions,
        renderers: Mapping[str, Renderer],
        *,
        lease: float,
        goes_before: Pace | None = None,
    ) -> None:
        """`goes_before`: the broadcasts' pace, whose next turn each message sent here takes
        (goods and notices go before a broadcast)."""
        self.transactions = transactions
        self.renderers = renderers
        self.lease = lease
        self.pace = Pace(SENDS_PER_SECOND)
        self.goes_before = goes_before
        self.owner = sender_name()
        # Rows `write` rendered, until `send_now` sends them. Keyed by the whole row, not its
        # id: SQLite reuses the id of a row whose transaction rolled back.
        self._rendered: dict[Outgoing, list[Part] | None] = {}

    async def write(self, shop: Shop, messages: Sequence[NewMessage]) -> list[Outgoing]:
        """Add messages in the caller's transaction, claimed by this instance, and render
        them there (sparing `send_now` a transaction): the caller hands them to `send_now`
        after the commit."""
        moment = now()
        until = moment + timedelta(seconds=self.lease)
        rows = await shop.outbox.add(messages, moment, claimed_by=self.owner, until=until)
        self._rendered.update(await self._render_in(shop, rows))
        return rows

    async def post(
        self, bot: Bot, compose: Callable[[Shop], Awaitable[Sequence[NewMessage]]]
    ) -> None:
        """Compose messages (they may read the database, e.g. their recipients' languages)
        and write them in a transaction of their own, then send them."""
        async with self.transactions(LOCK_WAIT) as shop:
            rows = await self.write(shop, await compose(shop))
        await self.send_now(bot, rows)

    async def send_now(self, bot: Bot, rows: Sequence[Outgoing]) -> None:
        """Send rows this instance claimed when it wrote them. Whatever fails here stays in
        the outbox for the worker (after the claim's lease, if it could not be released)."""
        try:
            await self._send(bot, rows, pace=None)
        except Exception as error:  # the database gone meanwhile: the lease runs out
            logger.warning(
                "could not send outbox rows {} now ({}: {}); they are sent later",
                [row.id for row in rows],
                type(error).__name__,
                error,
            )

    async def send_due(self, bot: Bot) -> int:
        """Claim the rows that are due (up to BATCH) and send them; how many were claimed."""
        moment = now()
        async with self.transactions(LOCK_WAIT) as shop:
            rows = await shop.outbox.claim(
                self.owner,
                moment,
                moment + timedelta(seconds=self.lease),
                kinds=list(self.renderers),
                limit=BATCH,
            )
        await self._send(bot, rows, pace=self.pace)
        return len(rows)

    async def _send(self, bot: Bot, rows: Sequence[Outgoing], *, pace: Pace | None) -> None:
        """Send claimed rows, then record what became of them in one transaction; `pace`
        spaces the sends (the worker's: broadcasts and retries; a purchase's own messages go
        at once)."""
        if not rows:
            return
        send_by = asyncio.get_running_loop().time() + self.lease * SEND_SHARE
        rendered = await self._render(rows)
        chats: dict[int, list[tuple[Outgoing, list[Part] | None]]] = defaultdict(list)
        for row, parts in rendered:
            chats[row.chat_id].append((row, parts))
        turns = asyncio.Semaphore(CHATS_AT_ONCE)

        async def send_chat(items: list[tuple[Outgoing, list[Part] | None]]) -> list[_Outcome]:
            async with turns:
                return await self._send_chat(bot, items, send_by, pace)

        chat_outcomes = await asyncio.gather(*(send_chat(items) for items in chats.values()))
        notices = await self._record(
            [outcome for outcomes in chat_outcomes for outcome in outcomes]
        )
        await self._send(bot, notices, pace=pace)  # text rows: they fail without a notice

    async def _render(self, rows: Sequence[Outgoing]) -> list[tuple[Outgoing, list[Part] | None]]:
        """Each row's messages: as `write` rendered them, else read in a transaction now."""
        prepared = {row: self._rendered.pop(row) for row in rows if row in self._rendered}
        left = [row for row in rows if row not in prepared]
        if left:
            async with self.transactions(LOCK_WAIT) as shop:
                prepared.update(await self._render_in(shop, left))
        return [(row, prepared[row]) for row in rows]

    async def _render_in(
        self, shop: Shop, rows: Sequence[Outgoing]
    ) -> dict[Outgoing, list[Part] | None]:
        """The rows' messages, each in the language of the chat it goes to."""
        languages = await shop.users.languages_of({row.chat_id for row in rows})
        rendered: dict[Outgoing, list[Part] | None] = {}
        for row in rows:
            with speaking(languages.get(row.chat_id, default_language())):
                rendered[row] = await self.renderers[row.kind](shop, row)
        return rendered

    async def _send_chat(
        self,
        bot: Bot,
        items: list[tuple[Outgoing, list[Part] | None]],
        send_by: float,
        pace: Pace | None,
    ) -> list[_Outcome]:
        """One chat's rows in order; after a failure that passes, the rest wait with it."""
        outcomes: list[_Outcome] = []
        for index, (row, parts) in enumerate(items):
            outcome = await self._send_row(bot, row, parts, send_by, pace)
            outcomes.append(outcome)
            if outcome.retry_at is not None:
                outcomes += [
                    _Outcome(later, later.parts_sent, _WAITS_FOR_EARLIER, outcome.retry_at)
                    for later, _ in items[index + 1 :]
                ]
                break
        return outcomes

    async def _send_row(
        self,
        bot: Bot,
        row: Outgoing,
        parts: list[Part] | None,
        send_by: float,
        pace: Pace | None,
    ) -> _Outcome:
        """Send what is left of one row."""
        if parts is None:
            logger.info("outbox {}: nothing to send to chat {} any more", _what(row), row.chat_id)
            return _Outcome(row, row.parts_sent, "nothing to send any more")
        loop = asyncio.get_running_loop()
        for index in range(row.parts_sent, len(parts)):
            if loop.time() >= send_by:  # the lease is running out: let the next claim go on
                return _Outcome(row, index, "its claim ran out", now())
            if pace is not None:
                await pace.turn()
            if self.goes_before is not None:
                self.goes_before.give_way()
            try:
                with answering_by(send_by):
                    await parts[index].send(bot, row.chat_id)
            except TelegramAPIError as error:
                return self._failed(bot, row, index, error)
        return _Outcome(row, len(parts))

    def _failed(
        self, bot: Bot, row: Outgoing, parts_sent: int, error: TelegramAPIError
    ) -> _Outcome:
        reason = describe(error, bot.token)
        if not is_transient(error):
            logger.warning(
                "outbox {} to chat {} refused for good ({}); not retried",
                _what(row),
                row.chat_id,
                reason,
            )
            # A buyer who blocked the bot (403) cannot be told anything.
            blocked = isinstance(error, TelegramForbiddenError)
            return _Outcome(
                row,
                parts_sent,
                reason,
                tell_buyer=row.kind == OUTBOX_GOODS and not blocked,
                blocked=blocked,
            )
        wait = (
            float(error.retry_after)
            if isinstance(error, TelegramRetryAfter)
            else min(FIRST_RETRY * 2**row.attempts, MAX_RETRY)
        )
        logger.warning(
            "outbox {} to chat {} not sent ({}); trying again in {:g} s",
            _what(row),
            row.chat_id,
            reason,
            wait,
        )
        return _Outcome(row, parts_sent, reason, now() + timedelta(seconds=wait))

    async def _record(self, outcomes: Sequence[_Outcome]) -> list[Outgoing]:
        """What became of a round's rows, in one transaction, with a GET_IT_AGAIN row (claimed
        by this instance: returned to be sent now) for each buyer to tell; so a buyer is told
        once, with the failure. If it fails, the rows stay claimed until the lease runs out
        and are then sent again (at least once)."""
        try:
            async with self.transactions(LOCK_WAIT) as shop:
                moment = now()
                kept = [
                    await outcome.record(shop.outbox, self.owner, moment) for outcome in outcomes
                ]
                still_ours = [out for out, mine in zip(outcomes, kept, strict=True) if mine]
                blocked = {outcome.row.chat_id for outcome in still_ours if outcome.blocked}
                if blocked:
                    await shop.users.mark_blocked(blocked, moment)
                told = [outcome.row.chat_id for outcome in still_ours if outcome.tell_buyer]
                notices = await self._get_it_again(shop, told)
        except Exception as error:
            logger.warning(
                "could not record what became of outbox rows {} ({}: {}); they are sent again "
                "once their claim runs out",
                [outcome.row.id for outcome in outcomes],
                type(error).__name__,
                error,
            )
            return []
        for outcome, ours in zip(outcomes, kept, strict=True):
            if not ours:
                logger.warning("outbox {} was taken over by another sender", _what(outcome.row))
        return notices

    async def _get_it_again(self, shop: Shop, chat_ids: Sequence[int]) -> list[Outgoing]:
        """GET_IT_AGAIN to each chat, in its language. No purchase id on the row: the unique
        (kind, chat, purchase) would drop it for a buyer who is also an admin (whose sale
        notice has that key)."""
        if not chat_ids:
            return []
        languages = await shop.users.languages_of(set(chat_ids))
        messages = []
        for chat_id in chat_ids:
            with speaking(languages.get(chat_id, default_language())):
                messages.append(NewMessage(OUTBOX_TEXT, chat_id, text=str(GET_IT_AGAIN)))
        return await self.write(shop, messages)

    async def release(self) -> None:
        """Let go of the rows this instance held, so the next start (or another instance)
        sends them at once instead of after the lease."""
        try:
            async with self.transactions(LOCK_WAIT) as shop:
                released = await shop.outbox.release(self.owner)
        except Exception as error:
            logger.warning("could not release the outbox rows this instance held: {}", error)
            return
        if released:
            logger.info("released {} outbox row(s) not sent yet", released)


def _what(row: Outgoing) -> str:
    """A row for the log: its id, kind and purchase (what an admin reconciles by)."""
    purchase = f" of purchase {row.purchase_id}" if row.purchase_id is not None else ""
    return f"#{row.id} ({row.kind}{purchase})"
