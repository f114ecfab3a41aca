"""What a purchase delivers to its buyer (the sending is Telegram's: bot.payments.delivery)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dao.models import Product
from bot.shop.services import Shop
from bot.shop.stock import is_stock


@dataclass(frozen=True)
class Goods:
    """What a buyer receives; plain values, so it outlives the database session."""

    product_id: int
    name: str
    content: str
    file_id: str | None

    @classmethod
    def of(cls, product: Product, content: str | None = None) -> Goods:
        """The product's goods; a stock product's `content` is the text of the unit sold."""
        return cls(
            product_id=product.id,
            name=product.name,
            content=product.hidden_content if content is None else content,
            file_id=product.file_id,
        )


async def owned_goods(
    shop: Shop, telegram_id: int, product_id: int, purchase_id: int | None = None
) -> Goods | None:
    """The goods of a product this buyer bought, hidden since or not; None if they never did.
    For a stock product, the unit of that purchase (or of their latest one) again."""
    purchases = await shop.purchases.ids_of(telegram_id, product_id)
    if not purchases or (purchase_id is not None and purchase_id not in purchases):
        return None
    product = await shop.products.get(product_id)
    if product is None:
        return None
    if not is_stock(product):
        return Goods.of(product)
    content = await shop.stock.content_of([purchase_id] if purchase_id else purchases)
    return Goods.of(product, content=content) if content is not None else None
