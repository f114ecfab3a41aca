"""Refunds: which purchase the bot may refund (Stars, not refunded yet), and marking one
refunded. A refunded purchase no longer counts as revenue nor delivers again; a stock unit it
sold stays sold, since its buyer has seen it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dao.models import Purchase
from bot.i18n import _
from bot.i18n.formats import moment
from bot.shop.money import format_amount
from bot.shop.purchases import PROVIDER_STARS
from bot.shop.referrals import take_back_reward
from bot.shop.services import Shop
from bot.shop.stock import now


def not_found(purchase_id: int) -> str:
    return _("There is no purchase #{id}: check the number in the purchase notice.").format(
        id=purchase_id
    )


@dataclass(frozen=True)
class Refundable:
    """A Stars purchase the bot can refund; plain values, so it outlives the session."""

    purchase_id: int
    buyer_id: int  # the buyer's Telegram id
    buyer_language: str | None  # None: they have none stored yet
    charge_id: str
    amount: int
    currency: str
    product_name: str

    @property
    def paid(self) -> str:
        """The amount, as the current language writes it."""
        return format_amount(self.amount, self.currency)


@dataclass(frozen=True)
class Refused:
    reason: str


def refusal_for(purchase: Purchase) -> str | None:
    """Why the bot cannot refund this purchase, or None if it can."""
    if purchase.refunded_at is not None:
        return _(
            "Purchase #{id} was already refunded on {when}: there is nothing to refund."
        ).format(id=purchase.id, when=moment(purchase.refunded_at))
    if purchase.provider != PROVIDER_STARS:
        return _(
            "Purchase #{id} was paid through the payment provider: refund it in the provider's "
            "dashboard, the bot cannot."
        ).format(id=purchase.id)
    return None


async def find_refundable(shop: Shop, purchase_id: int) -> Refundable | Refused:
    purchase = await shop.purchases.get(purchase_id)
    if purchase is None:
        return Refused(not_found(purchase_id))
    reason = refusal_for(purchase)
    if reason is not None:
        return Refused(reason)
    return Refundable(
        purchase_id=purchase.id,
        buyer_id=purchase.user.telegram_id,
        buyer_language=purchase.user.language,
        charge_id=purchase.charge_id,
        amount=purchase.amount,
        currency=purchase.currency,
        product_name=purchase.product.name,
    )


async def mark_refunded(shop: Shop, purchase_id: int) -> bool:
    """Mark it refunded now, taking back the referral reward it earned; False if it already
    was (another admin, or Telegram's `refunded_payment`, got there first)."""
    if not await shop.purchases.refund(purchase_id, now()):
        return False
    await take_back_reward(shop, purchase_id)
    return True


async def mark_charge_refunded(shop: Shop, charge_id: str) -> int | None:
    """Mark the purchase of a charge refunded now; its id, or None if there was none to
    mark (an unknown charge, or one already marked). As `mark_refunded`."""
    purchase_id = await shop.purchases.refund_charge(charge_id, now())
    if purchase_id is not None:
        await take_back_reward(shop, purchase_id)
    return purchase_id
