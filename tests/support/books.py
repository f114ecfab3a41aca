"""One product and one purchase of it, for tests about what a purchase sends."""

from __future__ import annotations

from bot.shop.invoices import build_payload
from tests.support.shop import ShopBot

BUYER, ADMIN = 5001, 9001
CONTENT = "secret-key-42"
HERE_IS = "📦 Here is <b>Python Tricks</b>:"


async def add_book(shop: ShopBot) -> int:
    """Python Tricks, 150 Stars, with its content and a file."""
    return await shop.add_product(
        "E-books",
        name="Python Tricks",
        price=150,
        currency="XTR",
        file_id="FILE-PY",
        hidden_content=CONTENT,
    )


async def pay_for_book(shop: ShopBot) -> int:
    """The buyer pays for Python Tricks; the call-log mark before the payment."""
    payload = build_payload(await add_book(shop), BUYER)
    mark = shop.telegram.mark()
    await shop.chat(BUYER).pay(currency="XTR", total_amount=150, payload=payload, charge_id="c-1")
    return mark
