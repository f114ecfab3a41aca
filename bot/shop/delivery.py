"""What a purchase delivers to its buyer (the sending itself is Telegram's, in the handlers)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dao.models import Product
from bot.shop.services import Shop


@dataclass(frozen=True)
class Goods:
    """What a buyer receives; plain values, so it outlives the database session."""

    product_id: int
    name: str
    content: str
    file_id: str | None

    @classmethod
    def of(cls, product: Product) -> Goods:
        return cls(
            product_id=product.id,
            name=product.name,
            content=product.hidden_content,
            file_id=product.file_id,
        )


async def owned_goods(shop: Shop, telegram_id: int, product_id: int) -> Goods | None:
    """The goods of a product this buyer bought, hidden since or not; None if they never did."""
    if not await shop.purchases.owns(telegram_id, product_id):
        return None
    product = await shop.products.get(product_id)
    return Goods.of(product) if product is not None else None
