"""The outbox's rows: added in the transaction that decided them, claimed by one sender at a
time, marked as their messages go out.

A claim is one conditional UPDATE … RETURNING. On PostgreSQL the candidates are locked FOR
UPDATE SKIP LOCKED, so instances claiming at once take different rows without waiting; SQLite
has one writer at a time, so the same statement is as safe there. A claim is a lease, until
`claimed_until`: rows of a sender that died are claimed again once it has run out. Every later
write of a sender repeats `claimed_by = <itself>`, so a sender whose lease was taken over
changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import OUTBOX_FAILED, OUTBOX_PENDING, OUTBOX_SENT, OutboxMessage
from bot.dao.upsert import dialect_insert

# outbox.error holds this many characters.
ERROR_MAX = 255


@dataclass(frozen=True)
class NewMessage:
    kind: str
    chat_id: int
    purchase_id: int | None = None
    product_id: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A claimed row: what to send, and how far it got."""

    id: int
    kind: str
    chat_id: int
    purchase_id: int | None
    product_id: int | None
    text: str | None
    parts_sent: int
    attempts: int


_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.chat_id,
    OutboxMessage.purchase_id,
    OutboxMessage.product_id,
    OutboxMessage.text,
    OutboxMessage.parts_sent,
    OutboxMessage.attempts,
)


def _outgoing(result: Result[*tuple[Any, ...]]) -> list[Outgoing]:
    return sorted((Outgoing(**row._asdict()) for row in result), key=lambda row: row.id)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.state == OUTBOX_PENDING,
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


class OutboxDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        messages: Sequence[NewMessage],
        now: datetime,
        *,
        claimed_by: str | None = None,
        until: datetime | None = None,
    ) -> list[Outgoing]:
        """Add the messages, due now; with `claimed_by`, already claimed by that sender until
        `until` (it sends them right after the commit; if it cannot, another claims them when
        the lease runs out). A goods or sale notice already there for its purchase is left
        as it is, and not returned."""
        if not messages:
            return []
        rows = [
            {
                **asdict(message),
                "due_at": now,
                "claimed_by": claimed_by,
                "claimed_until": until,
            }
            for message in messages
        ]
        insert = dialect_insert(self.session)
        statement = (
            insert(OutboxMessage)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[
                    OutboxMessage.kind,
                    OutboxMessage.chat_id,
                    OutboxMessage.purchase_id,
                ]
            )
            .returning(*_COLUMNS)
        )
        result = await self.session.execute(statement)
        return _outgoing(result)

    async def claim(
        self, owner: str, now: datetime, until: datetime, *, kinds: Sequence[str], limit: int
    ) -> list[Outgoing]:
        """Claim up to `limit` due rows of these kinds (those this release can send; a newer
        one's are left to it), oldest first, for `owner` until `until`."""
        candidates = (
            select(OutboxMessage.id)
            .where(_claimable(now), OutboxMessage.kind.in_(kinds))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(candidates), _claimable(now))
            .values(claimed_by=owner, claimed_until=until, updated_at=func.now())
            .returning(*_COLUMNS)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return _outgoing(result)

    async def _change(self, row_id: int, owner: str, **values: object) -> bool:
        statement = (
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.claimed_by == owner,
                OutboxMessage.state == OUTBOX_PENDING,
            )
            .values(**values, updated_at=func.now())
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def sent(self, row_id: int, owner: str, parts_sent: int, now: datetime) -> bool:
        return await self._change(
            row_id,
            owner,
            state=OUTBOX_SENT,
            parts_sent=parts_sent,
            sent_at=now,
            claimed_by=None,
            claimed_until=None,
        )

    async def failed(self, row_id: int, owner: str, parts_sent: int, error: str) -> bool:
        """Given up for good: refused by Telegram (a blocked bot), or nothing left to send."""
        return await self._change(
            row_id,
            owner,
            state=OUTBOX_FAILED,
            parts_sent=parts_sent,
            error=error[:ERROR_MAX],
            claimed_by=None,
            claimed_until=None,
        )

    async def postpone(
        self, row_id: int, owner: str, parts_sent: int, due: datetime, error: str
    ) -> bool:
        """Try again from `due` on (anyone may claim it then), after the first `parts_sent`
        messages, which went out."""
        return await self._change(
            row_id,
            owner,
            parts_sent=parts_sent,
            due_at=due,
            attempts=OutboxMessage.attempts + 1,
            error=error[:ERROR_MAX],
            claimed_by=None,
            claimed_until=None,
        )

    async def release(self, owner: str) -> int:
        """Let go of every row `owner` still holds (it stops): others claim them at once."""
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == owner, OutboxMessage.state == OUTBOX_PENDING)
            .values(claimed_by=None, claimed_until=None, updated_at=func.now())
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return len((await self.session.execute(statement)).all())
