"""A burst of new users at once, with payments inside it, through the real dispatcher with a
slow Bot API: what tests/test_burst.py checks and bench/burst.py measures.

Every update is fed at once (`Dispatcher.feed_update`, concurrently, as polling runs handlers
as tasks) to the bot `running_shop` builds, whose fake Telegram answers each call `latency`
seconds late. A user is answered when the bot sent a message to their chat.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category, Product, Purchase
from bot.shop.invoices import build_payload
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import ShopBot, running_shop

FIRST_USER = 100_000
PRICE = 25


@dataclass(frozen=True)
class BurstResult:
    users: int
    answered: int
    payments: int
    recorded: int
    seconds: float  # from the first update fed to the last one handled
    handled_in: list[float]  # per update, seconds from being fed to handled
    errors: list[str]  # the bot's ERROR lines


async def add_product(session: AsyncSession, name: str, price: int) -> int:
    """A Stars product on sale in a category of its own, with hidden content; its id."""
    product = Product(
        category=Category(name=f"{name} category"),
        name=name,
        description="",
        price=price,
        currency="XTR",
        hidden_content=f"{name} content",
    )
    session.add(product)
    await session.flush()
    return product.id


async def _timed(shop: ShopBot, update: Update) -> float:
    started = time.perf_counter()
    await shop.dispatcher.feed_update(shop.bot, update)
    return time.perf_counter() - started


def _updates(shop: ShopBot, users: int, payments: int, product_id: int) -> list[Update]:
    telegram = shop.telegram
    bodies: list[dict[str, Any]] = [
        telegram.text_update(FIRST_USER + index, "/start", first_name=f"U{index}")
        for index in range(users)
    ]
    step = max(1, users // (payments + 1))
    for number in range(payments):
        payer = FIRST_USER + step * (number + 1)
        payment = telegram.payment_update(
            payer,
            currency="XTR",
            total_amount=PRICE,
            payload=build_payload(product_id, payer),
            charge_id=f"burst-{number}",
        )
        bodies.insert(step * (number + 1), payment)  # inside the burst, not after it
    return [
        Update.model_validate({"update_id": index, **body}, context={"bot": shop.bot})
        for index, body in enumerate(bodies, start=1)
    ]


async def run_burst(
    database: ThrowawayDatabase, *, users: int, latency: float, payments: int = 5
) -> BurstResult:
    async with running_shop(database) as shop:
        product_id = await shop.run(lambda session: add_product(session, "Burst key", PRICE))
        updates = _updates(shop, users, payments, product_id)
        shop.telegram.set_latency(latency)
        started = time.perf_counter()
        handled_in = await asyncio.gather(*(_timed(shop, update) for update in updates))
        seconds = time.perf_counter() - started
        shop.telegram.set_latency(0)
        answered = {call.params.get("chat_id") for call in shop.telegram.calls_of("sendMessage")}
        recorded = len(await shop.rows(Purchase))
        errors = [line for line in shop.log if line.startswith("ERROR")]
    return BurstResult(
        users=users,
        answered=len(answered & set(range(FIRST_USER, FIRST_USER + users))),
        payments=payments,
        recorded=recorded,
        seconds=seconds,
        handled_in=list(handled_in),
        errors=errors,
    )
