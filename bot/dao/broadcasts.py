"""Broadcasts and their recipients: a draft, sent off by queueing its audience in one
statement, held by one sender at a time (a lease, as the outbox's rows), marked as the
messages go out.

The audience is read and queued in the transaction that sends the broadcast off, so pressing
Send twice queues it once (only a draft can be sent off), and the unique (broadcast, chat)
keeps anyone from being queued twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.broadcast_models import (
    BROADCAST_CANCELLED,
    BROADCAST_DONE,
    BROADCAST_DRAFT,
    BROADCAST_SENDING,
    RECIPIENT_BLOCKED,
    RECIPIENT_FAILED,
    RECIPIENT_PENDING,
    RECIPIENT_SENT,
    Broadcast,
    BroadcastRecipient,
)
from bot.dao.models import Product, Purchase, User

# broadcasts.audience: who a broadcast goes to (`audience_value` says which one).
AUDIENCE_ALL = "all"
AUDIENCE_PRODUCT = "product"  # buyers of a product (its id)
AUDIENCE_CATEGORY = "category"  # buyers of any product of a category (its id)
AUDIENCE_LANGUAGE = "language"  # users speaking a language (its code)
AUDIENCE_ACTIVE = "active"  # seen in the last N days (N)
AUDIENCE_NEVER_BOUGHT = "never"


@dataclass(frozen=True)
class Audience:
    kind: str
    value: str | None = None


@dataclass(frozen=True)
class Progress:
    """How far a broadcast got: recipients by state."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0
    left: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.blocked + self.left


@dataclass(frozen=True)
class Recipient:
    id: int
    chat_id: int


def _bought(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """The user bought (and was not refunded) something matching `where`."""
    return exists(
        select(Purchase.id)
        .join(Product, Product.id == Purchase.product_id)
        .where(Purchase.user_id == User.id, Purchase.refunded_at.is_(None), *where)
    )


def audience_filter(
    audience: Audience, now: datetime, default_language: str
) -> ColumnElement[bool]:
    """The users an audience is, minus those who blocked the bot. `default_language` is what
    users without a stored language are spoken to in."""
    value = audience.value or ""
    if audience.kind == AUDIENCE_ALL:
        chosen: ColumnElement[bool] = true()
    elif audience.kind == AUDIENCE_PRODUCT:
        chosen = _bought(Purchase.product_id == int(value))
    elif audience.kind == AUDIENCE_CATEGORY:
        chosen = _bought(Product.category_id == int(value))
    elif audience.kind == AUDIENCE_LANGUAGE:
        chosen = User.language == value
        if value == default_language:
            chosen = or_(chosen, User.language.is_(None))
    elif audience.kind == AUDIENCE_ACTIVE:
        chosen = User.last_seen_at >= now - timedelta(days=int(value))
    elif audience.kind == AUDIENCE_NEVER_BOUGHT:
        chosen = ~exists(select(Purchase.id).where(Purchase.user_id == User.id))
    else:
        raise ValueError(f"unknown audience {audience.kind!r}")
    return and_(User.blocked_at.is_(None), chosen)


class BroadcastDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, author_id: int, audience: Audience, **content: Any) -> Broadcast:
        """A draft: `content` is its text, photo or document, and button."""
        broadcast = Broadcast(
            author_id=author_id, audience=audience.kind, audience_value=audience.value, **content
        )
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self.session.get(Broadcast, broadcast_id, populate_existing=True)

    async def count(self, audience: Audience, now: datetime, default_language: str) -> int:
        statement = select(func.count(User.id)).where(
            audience_filter(audience, now, default_language)
        )
        return int(await self.session.scalar(statement) or 0)

    async def send_off(
        self,
        broadcast_id: int,
        now: datetime,
        default_language: str,
        *,
        report_chat_id: int,
        report_message_id: int,
        paid: bool,
    ) -> int | None:
        """Queue a draft's audience and mark it sending; how many it goes to, or None when it
        is no longer a draft (sent off already: a second press of Send)."""
        claimed = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.state == BROADCAST_DRAFT)
            .values(
                state=BROADCAST_SENDING,
                report_chat_id=report_chat_id,
                report_message_id=report_message_id,
                paid=paid,
                updated_at=func.now(),
            )
            .returning(Broadcast.audience, Broadcast.audience_value)
            .execution_options(synchronize_session=False)
        )
        row = claimed.first()
        if row is None:
            return None
        audience = Audience(row.audience, row.audience_value)
        users = select(literal(broadcast_id), User.telegram_id).where(
            audience_filter(audience, now, default_language)
        )
        await self.session.execute(
            insert(BroadcastRecipient).from_select(["broadcast_id", "chat_id"], users)
        )
        total = await self.session.scalar(
            select(func.count())
            .select_from(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
        )
        await self.session.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(total=total)
        )
        return int(total or 0)

    async def take(self, owner: str, now: datetime, until: datetime) -> Broadcast | None:
        """The oldest broadcast being sent that no live sender holds, now held by `owner`."""
        free = or_(Broadcast.sender_until.is_(None), Broadcast.sender_until < now)
        candidate = (
            select(Broadcast.id)
            .where(Broadcast.state == BROADCAST_SENDING, free)
            .order_by(Broadcast.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        taken = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id.in_(candidate), Broadcast.state == BROADCAST_SENDING, free)
            .values(sender=owner, sender_until=until)
            .returning(Broadcast.id)
            .execution_options(synchronize_session=False)
        )
        broadcast_id = taken.scalar()
        return None if broadcast_id is None else await self.get(broadcast_id)

    async def hold(self, broadcast_id: int, owner: str, until: datetime) -> str | None:
        """Keep holding it until `until`; its state, or None when `owner` lost it."""
        held = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.sender == owner)
            .values(sender_until=until)
            .returning(Broadcast.state)
            .execution_options(synchronize_session=False)
        )
        return held.scalar()

    async def let_go(self, owner: str, broadcast_id: int | None = None) -> int:
        """Stop holding it (or whatever `owner` holds: it stops): others take it at once."""
        held_by_owner = Broadcast.sender == owner
        if broadcast_id is not None:
            held_by_owner = and_(held_by_owner, Broadcast.id == broadcast_id)
        released = await self.session.execute(
            update(Broadcast)
            .where(held_by_owner)
            .values(sender=None, sender_until=None)
            .returning(Broadcast.id)
            .execution_options(synchronize_session=False)
        )
        return len(released.all())

    async def pending(self, broadcast_id: int, after_id: int, limit: int) -> list[Recipient]:
        """The next recipients not sent to yet, in the order they were queued."""
        statement = (
            select(BroadcastRecipient.id, BroadcastRecipient.chat_id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.state == RECIPIENT_PENDING,
                BroadcastRecipient.id > after_id,
            )
            .order_by(BroadcastRecipient.id)
            .limit(limit)
        )
        return [Recipient(id_, chat_id) for id_, chat_id in await self.session.execute(statement)]

    async def mark(
        self, broadcast_id: int, outcomes: Mapping[str, Sequence[int]], errors: Mapping[int, str]
    ) -> None:
        """Recipients (by id) now in a final state; `errors`: why, for those that failed."""
        for state, ids in outcomes.items():
            if not ids:
                continue
            await self.session.execute(
                update(BroadcastRecipient)
                .where(
                    BroadcastRecipient.broadcast_id == broadcast_id,
                    BroadcastRecipient.id.in_(list(ids)),
                    BroadcastRecipient.state == RECIPIENT_PENDING,
                )
                .values(state=state, updated_at=func.now())
                .execution_options(synchronize_session=False)
            )
        for recipient_id, error in errors.items():
            await self.session.execute(
                update(BroadcastRecipient)
                .where(BroadcastRecipient.id == recipient_id)
                .values(error=error[:255])
                .execution_options(synchronize_session=False)
            )

    async def progress(self, broadcast_id: int) -> Progress:
        statement = (
            select(BroadcastRecipient.state, func.count())
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .group_by(BroadcastRecipient.state)
        )
        counts: dict[str, int] = {
            state: count for state, count in await self.session.execute(statement)
        }
        return Progress(
            sent=counts.get(RECIPIENT_SENT, 0),
            failed=counts.get(RECIPIENT_FAILED, 0),
            blocked=counts.get(RECIPIENT_BLOCKED, 0),
            left=counts.get(RECIPIENT_PENDING, 0),
        )

    async def change_state(
        self, broadcast_id: int, from_states: Sequence[str], to: str, now: datetime
    ) -> bool:
        """Pause, resume, cancel or finish: only from one of `from_states`. The instance
        sending it keeps holding it until it has recorded the messages in flight."""
        values: dict[str, Any] = {"state": to, "updated_at": func.now()}
        if to in (BROADCAST_CANCELLED, BROADCAST_DONE):
            values["finished_at"] = now
        changed = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.state.in_(list(from_states)))
            .values(**values)
            .returning(Broadcast.id)
            .execution_options(synchronize_session=False)
        )
        return changed.first() is not None
