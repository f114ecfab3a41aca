"""The pre-checkout answer reaches Telegram within the window counted from the query's
arrival, in-process through the real dispatcher: a database held busy past the review's share
of the window refuses the checkout with the busy line (once, while the database is still
held), and the answer's retries stop where the window ends."""

from __future__ import annotations

import asyncio

import pytest

from bot.handlers import payments as payments_handlers
from bot.handlers.payments import SHOP_BUSY
from bot.shop.invoices import build_payload
from tests.support.databases import ThrowawayDatabase, database_locked
from tests.support.shop import running_shop

BUYER = 5001
PRICE = 150
# Never reached when the window holds: it only stops a broken handler from hanging the run.
HANG_GUARD = 30


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1.5 s window of which the review gets 0.5 s, to keep the tests fast."""
    monkeypatch.setattr(payments_handlers, "PRE_CHECKOUT_WINDOW", 1.5)
    monkeypatch.setattr(payments_handlers, "ANSWER_RESERVE", 1.0)


async def test_a_busy_database_refuses_the_checkout_in_time_with_the_busy_line(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database) as shop:
        product_id = await shop.add_product("Keys", name="Key", price=PRICE, currency="XTR")
        payload = build_payload(product_id, BUYER)

        async with database_locked(database, "products"), asyncio_guard():
            answer = await shop.chat(BUYER).pre_checkout(
                currency="XTR", total_amount=PRICE, payload=payload
            )
            # Answered while the database is still held: the answer did not wait for it.
            assert answer.params["ok"] is False
            assert answer.params["error_message"] == SHOP_BUSY

        assert len(shop.telegram.calls_of("answerPreCheckoutQuery")) == 1
        # Once the database is free the same checkout goes ahead.
        again = await shop.chat(BUYER).pre_checkout(
            currency="XTR", total_amount=PRICE, payload=payload
        )
        assert again.params["ok"] is True


async def test_the_answer_is_not_retried_past_the_window(database: ThrowawayDatabase) -> None:
    """Flood control asks for 1 s, more than the window has left after the review: the
    answer is not tried again (its own 8 s budget would have waited)."""
    async with running_shop(database) as shop:
        product_id = await shop.add_product("Keys", name="Key", price=PRICE, currency="XTR")
        shop.telegram.set_flood_control("answerPreCheckoutQuery", retry_after=1)
        shop.telegram.set_latency(0.6, "answerPreCheckoutQuery")  # the window is then past 1 s

        await shop.feed(
            shop.telegram.pre_checkout_update(
                BUYER, currency="XTR", total_amount=PRICE, payload=build_payload(product_id, BUYER)
            )
        )

        assert len(shop.telegram.calls_of("answerPreCheckoutQuery")) == 1
        assert any("could not be answered in time" in line for line in shop.log)


async def test_an_answer_telegram_does_not_answer_is_given_up_at_the_window(
    database: ThrowawayDatabase,
) -> None:
    """A request that hangs is cut at the window's end, not at the session's 60 s."""
    async with running_shop(database) as shop:
        product_id = await shop.add_product("Keys", name="Key", price=PRICE, currency="XTR")
        shop.telegram.set_latency(HANG_GUARD * 2, "answerPreCheckoutQuery")

        async with asyncio_guard():
            await shop.feed(
                shop.telegram.pre_checkout_update(
                    BUYER,
                    currency="XTR",
                    total_amount=PRICE,
                    payload=build_payload(product_id, BUYER),
                )
            )

        assert len(shop.telegram.calls_of("answerPreCheckoutQuery")) == 1
        [given_up] = [line for line in shop.log if "could not be answered in time" in line]
        assert "Request timeout error" in given_up


def asyncio_guard() -> asyncio.Timeout:
    return asyncio.timeout(HANG_GUARD)
