"""Recording a successful payment as a purchase: once per charge, whatever Telegram repeats."""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from bot.shop.customers import Customer, register
from bot.shop.delivery import Goods, owned_goods
from bot.shop.invoices import parse_payload
from bot.shop.money import STARS, logged_amount
from bot.shop.promo_codes import spend_use
from bot.shop.services import Shop
from bot.shop.stock import is_stock, now

# How a purchase was paid, as stored in purchases.provider.
PROVIDER_STARS = "telegram_stars"
PROVIDER_CARD = "provider"


def provider_of(currency: str) -> str:
    return PROVIDER_STARS if currency == STARS else PROVIDER_CARD


@dataclass(frozen=True)
class Payment:
    payload: str  # the invoice's, as `build_payload` made it
    amount: int
    currency: str
    charge_id: str  # Telegram's, or `<provider>:<gateway's id>`: unique per payment
    provider_charge_id: str | None
    # purchases.provider: a gateway's name (`bot.shop.orders`); None for a Telegram payment,
    # whose provider follows from its currency (and for journal lines written before this).
    provider: str | None = None


@dataclass(frozen=True)
class Receipt:
    """A successful payment as Telegram reported it: what the payment journal keeps."""

    update_id: int
    payer: Customer
    payment: Payment

    def describe(self) -> str:
        """Charge id, amount and payer: what an admin needs to reconcile it."""
        paid = logged_amount(self.payment.amount, self.payment.currency)
        return f"charge {self.payment.charge_id} of {paid} by user {self.payer.telegram_id}"


@dataclass(frozen=True)
class Recorded:
    """A new purchase: deliver the goods once it is committed."""

    purchase_id: int
    goods: Goods


@dataclass(frozen=True)
class Duplicate:
    """This charge was recorded before, with these goods: delivered already, unless the
    journal says otherwise (a crash, or a commit whose answer was lost)."""

    purchase_id: int | None
    goods: Goods | None


@dataclass(frozen=True)
class Unmatched:
    """The payment names no known product: the admins must refund it or deliver by hand."""


@dataclass(frozen=True)
class SoldOut:
    """A stock product with no unit left for this payment (the reservation expired and the
    pool emptied): nothing is recorded, and the payment must be refunded."""

    product_name: str


PaymentOutcome = Recorded | Duplicate | Unmatched | SoldOut


async def record_payment(shop: Shop, buyer: Customer, payment: Payment) -> PaymentOutcome:
    # The upsert comes first: on SQLite a transaction that starts with a write waits for a
    # concurrent duplicate's lock instead of failing on a stale read snapshot.
    user = await register(shop, buyer)
    paid = logged_amount(payment.amount, payment.currency)
    payload = parse_payload(payment.payload)
    product = (
        await shop.products.get(payload.product_id, deleted_too=True, lock=True)
        if payload
        else None
    )
    if product is None:
        logger.error(
            "payment {} ({}) by user {} names no known product ({!r}): refund it or deliver "
            "it by hand",
            payment.charge_id,
            paid,
            buyer.telegram_id,
            payload,
        )
        return Unmatched()
    purchase_id = await shop.purchases.record(
        user_id=user.id,
        product_id=product.id,
        amount=payment.amount,
        currency=payment.currency,
        provider=payment.provider or provider_of(payment.currency),
        charge_id=payment.charge_id,
        provider_charge_id=payment.provider_charge_id,
    )
    if purchase_id is None:
        return await _recorded_before(shop, buyer, payment)
    goods = Goods.of(product)
    if is_stock(product):
        unit = await shop.stock.sell(product.id, buyer.telegram_id, purchase_id, now())
        if unit is None:
            # Not kept as a purchase: it delivered nothing and its payment goes back.
            await shop.purchases.forget(purchase_id)
            logger.error(
                "payment {} ({}) by user {} for product {} found no unit left; refunding it",
                payment.charge_id,
                paid,
                buyer.telegram_id,
                product.id,
            )
            return SoldOut(product_name=product.name)
        goods = Goods.of(product, content=unit.content)
    if payload is not None and payload.promo_code_id is not None:
        discount = max(product.price - payment.amount, 0)
        await spend_use(
            shop, payload.promo_code_id, buyer.telegram_id, purchase_id, discount, payment.currency
        )
    if product.deleted_at is not None:
        await shop.products.restore_hidden(product)
    logger.info(
        "purchase {}: product {} for {} by user {}",
        purchase_id,
        product.id,
        paid,
        buyer.telegram_id,
    )
    return Recorded(purchase_id=purchase_id, goods=goods)


async def _recorded_before(shop: Shop, buyer: Customer, payment: Payment) -> PaymentOutcome:
    existing = await shop.purchases.of_charge(payment.charge_id)
    if existing is None:  # recorded by a transaction that has not committed: it delivers
        return Duplicate(purchase_id=None, goods=None)
    purchase_id, product_id = existing
    logger.info("payment {} is already recorded (purchase {})", payment.charge_id, purchase_id)
    goods = await owned_goods(shop, buyer.telegram_id, product_id, purchase_id)
    return Duplicate(purchase_id=purchase_id, goods=goods)
