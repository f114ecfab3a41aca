"""Queries about a stock product's units: loading them in bulk, counting, reserving and
selling each one exactly once.

Every change of a unit's state is one conditional UPDATE whose WHERE repeats the state it
expects, so two transactions can never both take one unit: on PostgreSQL the candidate row is
locked with FOR UPDATE SKIP LOCKED (a concurrent buyer takes the next one instead of waiting),
and the UPDATE re-checks the state on the row it locked; SQLite has one writer at a time (the
bot begins its transactions IMMEDIATE), so the same statement is just as safe there. A
reservation past its `reserved_until` counts as available: expired reservations return to
stock lazily in these statements, and `release_expired` tidies them up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import UNIT_AVAILABLE, UNIT_RESERVED, UNIT_SOLD, StockUnit
from bot.dao.upsert import dialect_insert

# Rows per INSERT: 4 bound values each stays far below both backends' parameter limits.
INSERT_CHUNK = 1000


@dataclass(frozen=True)
class StockCounts:
    available: int
    reserved: int  # held for a payer until their reservation expires
    sold: int


@dataclass(frozen=True)
class SoldUnit:
    unit_id: int
    content: str


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _expired(now: datetime) -> ColumnElement[bool]:
    return and_(StockUnit.state == UNIT_RESERVED, StockUnit.reserved_until < now)


def _free(now: datetime) -> ColumnElement[bool]:
    """Available, or reserved by someone whose reservation has expired."""
    return or_(StockUnit.state == UNIT_AVAILABLE, _expired(now))


class StockDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, product_id: int, texts: Sequence[str]) -> int:
        """Insert the texts as units (one multi-row INSERT … ON CONFLICT DO NOTHING per chunk);
        how many were new: a text the product already has is skipped."""
        added = 0
        insert = dialect_insert(self.session)
        for start in range(0, len(texts), INSERT_CHUNK):
            rows = [
                {"product_id": product_id, "content": text, "content_hash": content_hash(text)}
                for text in texts[start : start + INSERT_CHUNK]
            ]
            statement = (
                insert(StockUnit)
                .values(rows)
                .on_conflict_do_nothing(
                    index_elements=[StockUnit.product_id, StockUnit.content_hash]
                )
                .returning(StockUnit.id)
            )
            added += len((await self.session.execute(statement)).all())
        return added

    async def counts(self, product_id: int, now: datetime) -> StockCounts:
        free = func.count(case((_free(now), 1)))
        held = func.count(case((and_(StockUnit.state == UNIT_RESERVED, ~_expired(now)), 1)))
        sold = func.count(case((StockUnit.state == UNIT_SOLD, 1)))
        statement = select(free, held, sold).where(StockUnit.product_id == product_id)
        available, reserved, sold_count = (await self.session.execute(statement)).one()
        return StockCounts(available=available, reserved=reserved, sold=sold_count)

    async def available(self, product_ids: Iterable[int], now: datetime) -> dict[int, int]:
        """Units free to reserve, per product (products with none are left out)."""
        ids = list(product_ids)
        if not ids:
            return {}
        statement = (
            select(StockUnit.product_id, func.count(StockUnit.id))
            .where(StockUnit.product_id.in_(ids), _free(now))
            .group_by(StockUnit.product_id)
        )
        return {product_id: count for product_id, count in await self.session.execute(statement)}

    async def _take(
        self, product_id: int, wanted: ColumnElement[bool], **values: object
    ) -> SoldUnit | None:
        """Set `values` on one unit of the product matching `wanted`, atomically; None if
        no unit matches (or every candidate was taken by a concurrent transaction)."""
        candidate = (
            select(StockUnit.id)
            .where(StockUnit.product_id == product_id, wanted)
            .order_by(StockUnit.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(StockUnit)
            .where(StockUnit.id == candidate, wanted)
            .values(**values, updated_at=func.now())
            .returning(StockUnit.id, StockUnit.content)
            .execution_options(synchronize_session=False)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return SoldUnit(unit_id=row.id, content=row.content) if row is not None else None

    async def reserve(self, product_id: int, payer_id: int, now: datetime, until: datetime) -> bool:
        """Hold one free unit for this payer until `until`; False if none is free."""
        taken = await self._take(
            product_id,
            _free(now),
            state=UNIT_RESERVED,
            reserved_for=payer_id,
            reserved_until=until,
        )
        return taken is not None

    async def sell(
        self, product_id: int, payer_id: int, purchase_id: int, now: datetime
    ) -> SoldUnit | None:
        """Sell the unit reserved for this payer (expired or not, if nobody took it since),
        else any free one; None when the product has none left."""
        sold = {"state": UNIT_SOLD, "purchase_id": purchase_id, "reserved_until": None}
        mine = and_(StockUnit.state == UNIT_RESERVED, StockUnit.reserved_for == payer_id)
        unit = await self._take(product_id, mine, **sold)
        if unit is None:
            unit = await self._take(product_id, _free(now), **sold, reserved_for=payer_id)
        return unit

    async def content_of(self, purchase_ids: Iterable[int]) -> str | None:
        """The text of the unit sold in the newest of these purchases."""
        statement = (
            select(StockUnit.content)
            .where(StockUnit.purchase_id.in_(list(purchase_ids)))
            .order_by(StockUnit.purchase_id.desc())
            .limit(1)
        )
        return await self.session.scalar(statement)

    async def remove_unsold(self, product_id: int, now: datetime) -> int:
        """Delete the product's free units (a live reservation may still be paid); how many."""
        statement = delete(StockUnit).where(StockUnit.product_id == product_id, _free(now))
        result = await self.session.execute(statement.returning(StockUnit.id))
        return len(result.all())

    async def release_for(self, product_id: int, payer_id: int) -> int:
        """Return the units of this product reserved for this payer to stock (their order
        expired or failed); how many."""
        statement = (
            update(StockUnit)
            .where(
                StockUnit.product_id == product_id,
                StockUnit.state == UNIT_RESERVED,
                StockUnit.reserved_for == payer_id,
            )
            .values(
                state=UNIT_AVAILABLE, reserved_for=None, reserved_until=None, updated_at=func.now()
            )
            .returning(StockUnit.id)
            .execution_options(synchronize_session=False)
        )
        return len((await self.session.execute(statement)).all())

    async def release_expired(self, now: datetime) -> int:
        """Return every expired reservation to stock; how many."""
        statement = (
            update(StockUnit)
            .where(_expired(now))
            .values(
                state=UNIT_AVAILABLE, reserved_for=None, reserved_until=None, updated_at=func.now()
            )
            .returning(StockUnit.id)
            .execution_options(synchronize_session=False)
        )
        return len((await self.session.execute(statement)).all())
