"""Queries about promo codes and their uses: a use held at pre-checkout, spent by the payment.

Holding and spending happen under the code's row lock (`get(lock=True)`: FOR UPDATE on
PostgreSQL; SQLite's writer transactions are one at a time already), so two buyers racing for
a code's last use count one after the other and never both get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Exists, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.catalog_cache import CatalogCache, kept_in
from bot.dao.models import PromoCode, PromoUse, Purchase
from bot.dao.paging import Page, fetch_page
from bot.dao.routing import LATEST
from bot.dao.upsert import dialect_insert


@dataclass(frozen=True)
class Usage:
    """A code's spent uses, and the discount they gave per currency."""

    uses: int
    discounts: dict[str, int]


def _counts(now: datetime) -> ColumnElement[bool]:
    """A use that counts against the limits: spent, or held and not expired."""
    return or_(PromoUse.purchase_id.is_not(None), PromoUse.held_until > now)


def _spent() -> Exists:
    """The code of the query it is in has a spent use."""
    return exists().where(PromoUse.promo_code_id == PromoCode.id, PromoUse.purchase_id.is_not(None))


def _unspent_of(code_id: int, telegram_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        PromoUse.promo_code_id == code_id,
        PromoUse.telegram_id == telegram_id,
        PromoUse.purchase_id.is_(None),
    )


# Whether a card offers 🏷: one flag for the whole shop, kept as the catalog is.
_ANY_ON = select(PromoCode.id).where(PromoCode.active).limit(1).execution_options(**{LATEST: True})


class PromoCodeDAO:
    def __init__(self, session: AsyncSession, catalog: CatalogCache | None = None) -> None:
        """`catalog`: where the cards keep whether any code is on (none: always read)."""
        self.session = session
        self.catalog = catalog

    async def any_on(self) -> bool:
        """Whether any code is switched on (a shop without codes shows no 🏷 on its cards)."""

        async def read() -> bool:
            return await self.session.scalar(_ANY_ON) is not None

        return await kept_in(self.catalog, ("promo codes on",), read)

    async def get(self, code_id: int, *, lock: bool = False) -> PromoCode | None:
        """`lock`: hold its row until the transaction ends (see the module's docstring)."""
        return await self.session.get(
            PromoCode, code_id, with_for_update=lock or None, populate_existing=lock
        )

    async def by_code(self, code: str) -> PromoCode | None:
        """The code as normalised (`bot.shop.promo_codes.normalise`)."""
        return await self.session.scalar(select(PromoCode).where(PromoCode.code == code))

    async def create(self, **fields: Any) -> PromoCode | None:
        """The new code; None if one with this name exists (two admins at once: one wins),
        or a reward for this purchase does."""
        statement = (
            dialect_insert(self.session)(PromoCode)
            .values(**fields)
            .on_conflict_do_nothing()
            .returning(PromoCode.id)
        )
        code_id = (await self.session.execute(statement)).scalar_one_or_none()
        return None if code_id is None else await self.get(code_id, lock=True)

    async def change(self, code_id: int, **fields: Any) -> bool:
        """False if there is no such code."""
        statement = (
            update(PromoCode)
            .where(PromoCode.id == code_id)
            .values(**fields)
            .returning(PromoCode.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def rewards_of(self, telegram_id: int) -> list[tuple[PromoCode, bool]]:
        """This user's personal codes, newest first, each with whether it was spent."""
        statement = (
            select(PromoCode, _spent())
            .where(PromoCode.owner_telegram_id == telegram_id)
            .order_by(PromoCode.id.desc())
        )
        return [(code, bool(used)) for code, used in await self.session.execute(statement)]

    async def take_back(self, purchase_id: int) -> str | None:
        """Switch off the reward this purchase earned, unless it was spent; its code, or None
        when there was none to take back."""
        statement = (
            update(PromoCode)
            .where(PromoCode.earned_by_purchase_id == purchase_id, PromoCode.active, ~_spent())
            .values(active=False)
            .returning(PromoCode.code)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, number: int, size: int) -> Page[PromoCode]:
        statement = select(PromoCode).order_by(PromoCode.code)
        return await fetch_page(self.session, statement, number, size)

    async def counted(self, code_id: int, now: datetime, *, but_for: int) -> tuple[int, int]:
        """The code's uses that count now, in all and by buyer `but_for`, leaving out that
        buyer's own unspent one (which a new hold replaces)."""
        statement = select(
            func.count(PromoUse.id),
            func.count(PromoUse.id).filter(PromoUse.telegram_id == but_for),
        ).where(
            PromoUse.promo_code_id == code_id,
            _counts(now),
            ~((PromoUse.telegram_id == but_for) & PromoUse.purchase_id.is_(None)),
        )
        total, mine = (await self.session.execute(statement)).one()
        return int(total), int(mine)

    async def hold(self, code_id: int, telegram_id: int, until: datetime) -> None:
        """Hold a use for this buyer until `until`: their unspent one again, or a new one."""
        held = await self.session.execute(
            update(PromoUse)
            .where(*_unspent_of(code_id, telegram_id))
            .values(held_until=until)
            .returning(PromoUse.id)
            .execution_options(synchronize_session=False)
        )
        if held.first() is None:
            self.session.add(
                PromoUse(promo_code_id=code_id, telegram_id=telegram_id, held_until=until)
            )
            await self.session.flush()

    async def release(self, code_id: int, telegram_id: int) -> None:
        """Give back this buyer's unspent use."""
        await self.session.execute(delete(PromoUse).where(*_unspent_of(code_id, telegram_id)))

    async def spend(self, code_id: int, telegram_id: int, purchase_id: int, discount: int) -> bool:
        """Spend this buyer's held use on the purchase; False if they held none (it is
        recorded all the same: the payment was made)."""
        spent = await self.session.execute(
            update(PromoUse)
            .where(*_unspent_of(code_id, telegram_id))
            .values(purchase_id=purchase_id, held_until=None, discount=discount)
            .returning(PromoUse.id)
            .execution_options(synchronize_session=False)
        )
        if spent.first() is not None:
            return True
        self.session.add(
            PromoUse(
                promo_code_id=code_id,
                telegram_id=telegram_id,
                purchase_id=purchase_id,
                discount=discount,
            )
        )
        await self.session.flush()
        return False

    async def usage(self, code_ids: list[int] | None = None) -> dict[int | None, Usage]:
        """Spent uses and discounts per code (refunded purchases left out), and in all under
        the key None."""
        statement = (
            select(
                PromoUse.promo_code_id,
                Purchase.currency,
                func.count(PromoUse.id),
                func.sum(PromoUse.discount),
            )
            .join(Purchase, Purchase.id == PromoUse.purchase_id)
            .where(Purchase.refunded_at.is_(None))
            .group_by(PromoUse.promo_code_id, Purchase.currency)
        )
        if code_ids is not None:
            statement = statement.where(PromoUse.promo_code_id.in_(code_ids))
        found: dict[int | None, Usage] = {}
        for code_id, currency, uses, discount in await self.session.execute(statement):
            for key in (code_id, None):
                known = found.setdefault(key, Usage(0, {}))
                known.discounts[currency] = known.discounts.get(currency, 0) + int(discount or 0)
                found[key] = Usage(known.uses + uses, known.discounts)
        return found
