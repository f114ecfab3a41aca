"""Waiting for a sold-out stock product: a customer asks to be told when it is back, and the
load that adds its units tells everyone waiting, once, through the outbox.

Who waits and whether the product has free units are read under the product's row lock (the
lock payments and deletions take; SQLite has one writer at a time anyway): a customer who
starts waiting while units are being added is either taken by that load or sees its units,
and is never left waiting for a product in stock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from bot.dao.models import KIND_STOCK, OUTBOX_RESTOCK, Product
from bot.dao.outbox import NewMessage
from bot.shop.services import Shop

# Outbox rows per INSERT: 8 bound values each stays far below both backends' parameter limits.
NOTICE_CHUNK = 1000


class Waiting(StrEnum):
    """What pressing 🔔/🔕 on a product card did."""

    STARTED = "started"
    STOPPED = "stopped"
    IN_STOCK = "in stock"  # nothing to wait for: it can be bought now


async def waitable_product(shop: Shop, product_id: int) -> Product | None:
    """The stock product on sale, its row locked until the transaction ends; None if it is
    deleted, hidden or not a stock product."""
    product = await shop.products.get(product_id, lock=True)
    if product is None or not product.on_sale or product.kind != KIND_STOCK:
        return None
    return product


async def free_units(shop: Shop, product_id: int) -> int:
    available = await shop.stock.available([product_id], datetime.now(UTC))
    return available.get(product_id, 0)


async def toggle_waiting(shop: Shop, product: Product, telegram_id: int) -> Waiting:
    """Stop waiting for the product, or start unless it is in stock; `product` locked by
    `waitable_product`."""
    if await shop.restock.unsubscribe(product.id, telegram_id):
        return Waiting.STOPPED
    if await free_units(shop, product.id):
        return Waiting.IN_STOCK
    await shop.restock.subscribe(product.id, telegram_id)
    return Waiting.STARTED


async def wait_again(shop: Shop, product_id: int, telegram_id: int) -> None:
    """A customer whose notice found the product sold out again waits for the next restock
    (unless it is off sale now, or back in stock under the lock)."""
    product = await waitable_product(shop, product_id)
    if product is not None and not await free_units(shop, product.id):
        await shop.restock.subscribe(product.id, telegram_id)


async def notify_restock(shop: Shop, product_id: int) -> int:
    """Units were just added to the product in this transaction: if it is on sale with free
    units, everyone waiting for it gets one restock notice in the outbox and waits no more.
    How many will be told."""
    product = await waitable_product(shop, product_id)
    if product is None or not await free_units(shop, product.id):
        return 0
    waiting = await shop.restock.take_all(product.id)
    moment = datetime.now(UTC)
    for start in range(0, len(waiting), NOTICE_CHUNK):
        notices = [
            NewMessage(kind=OUTBOX_RESTOCK, chat_id=telegram_id, product_id=product.id)
            for telegram_id in waiting[start : start + NOTICE_CHUNK]
        ]
        await shop.outbox.add(notices, moment)
    return len(waiting)
