"""Bot API calls retried by the session's one middleware, in-process through the real
dispatcher: flood control (429 with retry_after) and Telegram's server errors (5xx) are
retried and the message arrives once; a refusal (403) never is; a wait longer than the call's
budget is not waited (what a delivery then does is the outbox's: tests/test_outbox.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import EditMessageText, RefundStarPayment, SendMessage, TelegramMethod
from aiohttp import ClientConnectorError
from aiohttp.client_reqrep import ConnectionKey

from bot.dao.models import Purchase
from bot.shop.invoices import build_payload
from bot.telegram.retries import RetryMiddleware
from tests.support.books import ADMIN, BUYER, add_book, pay_for_book
from tests.support.databases import throwaway_database
from tests.support.processes import TEST_TOKEN
from tests.support.shop import ShopBot, running_shop, texts


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[ShopBot]:
    """On SQLite only: retrying never touches the database."""
    with throwaway_database("sqlite", tmp_path) as database:
        async with running_shop(database, admin_ids=str(ADMIN)) as running:
            yield running
        assert not [entry for entry in running.log if TEST_TOKEN in entry]


def retries(shop: ShopBot) -> list[str]:
    lines = [entry.strip() for entry in shop.log]
    return [line for line in lines if line.startswith("WARNING") and "retrying in" in line]


async def test_flood_control_is_waited_out_and_the_message_sent_once(shop: ShopBot) -> None:
    shop.telegram.set_flood_control("sendMessage", retry_after=1)

    await shop.chat(BUYER).send("/start")

    first, second = shop.telegram.calls_of("sendMessage")
    assert first.params == second.params  # the same request, repeated
    [shown] = shop.telegram.messages_in(BUYER)
    assert shown["text"].startswith("Hello, Test!")
    [warning] = retries(shop)
    assert "Bot API sendMessage failed (flood control, retry after 1 s); retrying in 1 s" in warning


async def test_server_errors_are_retried_with_growing_waits(shop: ShopBot) -> None:
    shop.telegram.set_server_error("sendMessage", times=2)

    await shop.chat(BUYER).send("/start")

    assert len(shop.telegram.calls_of("sendMessage")) == 3
    assert len(shop.telegram.messages_in(BUYER)) == 1
    waits = [line.rsplit("retrying in ", 1)[1] for line in retries(shop)]
    assert waits == ["0.5 s", "1 s"]
    assert "TelegramServerError: Internal Server Error" in retries(shop)[0]


async def test_a_refusal_is_not_retried_and_the_buyer_is_not_told_again(shop: ShopBot) -> None:
    """A buyer who blocked the bot: one attempt, nothing more for them; the admin still hears."""
    shop.telegram.set_failure("sendMessage", error_code=403, description="Forbidden: blocked")

    mark = await pay_for_book(shop)

    assert len(shop.chat(BUYER).calls_since(mark)) == 1
    assert shop.telegram.messages_in(BUYER) == []
    assert "Python Tricks" in texts(shop.chat(ADMIN).calls_since(mark))[0]
    assert retries(shop) == []
    assert len(await shop.rows(Purchase)) == 1


async def test_a_pre_checkout_answer_hit_by_flood_control_is_retried(shop: ShopBot) -> None:
    payload = build_payload(await add_book(shop), BUYER)
    shop.telegram.set_flood_control("answerPreCheckoutQuery", retry_after=1)

    await shop.feed(
        shop.telegram.pre_checkout_update(BUYER, currency="XTR", total_amount=150, payload=payload)
    )

    answers = shop.telegram.calls_of("answerPreCheckoutQuery")
    assert [answer.params["ok"] for answer in answers] == [True, True]
    assert "answerPreCheckoutQuery" in retries(shop)[0]


@pytest.mark.parametrize(
    ("method", "retry_after"),
    [("answerPreCheckoutQuery", 9), ("answerCallbackQuery", 6), ("sendMessage", 31)],
)
async def test_a_wait_beyond_the_budget_is_not_waited(
    shop: ShopBot, method: str, retry_after: int
) -> None:
    """Pre-checkout answers get 8 s (Telegram takes them for 10 s), button answers 5 s, the
    rest BOT_API_RETRY_TIMEOUT (30 s): a longer wait fails the call at once."""
    shop.telegram.set_flood_control(method, retry_after=retry_after)
    calls = {
        "answerPreCheckoutQuery": lambda: shop.bot.answer_pre_checkout_query("pcq-1", ok=True),
        "answerCallbackQuery": lambda: shop.bot.answer_callback_query("cbq-1"),
        "sendMessage": lambda: shop.bot.send_message(BUYER, "hi"),
    }

    with pytest.raises(TelegramRetryAfter):
        await calls[method]()

    assert len(shop.telegram.calls_of(method)) == 1
    assert retries(shop) == []


def _network_error(method: TelegramMethod[Any], cause: BaseException) -> TelegramNetworkError:
    try:
        raise TelegramNetworkError(method=method, message=str(cause)) from cause
    except TelegramNetworkError as error:
        return error


async def _calls_made(method: TelegramMethod[Any], cause: BaseException) -> int:
    """How many times the middleware makes `method` when each attempt fails with a network
    error caused by `cause` (budget: a few quick retries)."""
    calls = 0

    async def failing(_bot: Bot, made: TelegramMethod[Any]) -> Any:
        nonlocal calls
        calls += 1
        raise _network_error(made, cause)

    with pytest.raises(TelegramNetworkError):
        await RetryMiddleware(budget=1.0)(failing, Bot(TEST_TOKEN), method)
    return calls


async def test_a_send_that_may_have_arrived_is_not_sent_again() -> None:
    timeout = TimeoutError()
    assert await _calls_made(SendMessage(chat_id=1, text="key"), timeout) == 1
    assert (
        await _calls_made(RefundStarPayment(user_id=1, telegram_payment_charge_id="c"), timeout)
        == 1
    )


async def test_a_send_that_never_connected_and_an_edit_are_retried() -> None:
    refused = ClientConnectorError(
        ConnectionKey("api.telegram.org", 443, True, None, None, None, None),
        OSError(111, "Connection refused"),
    )
    assert await _calls_made(SendMessage(chat_id=1, text="key"), refused) > 1
    edit = EditMessageText(chat_id=1, message_id=2, text="menu")
    assert await _calls_made(edit, TimeoutError()) > 1
