"""Taking things out of the catalog without taking anything from buyers."""

from __future__ import annotations

from enum import StrEnum

from bot.dao.models import Category, Product
from bot.shop.services import Shop


class Removal(StrEnum):
    DELETED = "deleted"
    HIDDEN = "hidden"  # it has purchases: buyers keep access, so it is only taken off sale


async def remove_product(shop: Shop, product: Product) -> Removal:
    """Delete a product nobody bought; hide one with purchases so its buyers keep access."""
    # The row is locked first, as a payment locks it: a payment under way finishes before
    # the count, and one that comes after finds the deleted row and lists it, hidden.
    await shop.products.get(product.id, deleted_too=True, lock=True)
    if not await shop.products.purchase_count(product.id):
        await shop.products.delete(product)
        return Removal.DELETED
    await shop.products.set_on_sale(product, False)
    return Removal.HIDDEN


async def delete_if_empty(shop: Shop, category: Category) -> int:
    """Delete the category if it has no products; return how many it has (0: deleted)."""
    products = await shop.categories.product_count(category.id)
    if not products:
        await shop.categories.delete(category)
    return products
