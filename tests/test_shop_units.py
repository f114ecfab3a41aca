"""The Telegram side's small parts: callback data, admin notices, the stale-button helper, and
the session middleware's commit/rollback/after-commit contract (the shop's rules are in
test_shop_rules.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.dao.database import create_session_factory
from bot.dao.models import Category
from bot.handlers.ui import STALE, load_or_stale
from bot.keyboards.callbacks import AdminProduct, Buy, CategoryPage, ProductCard
from bot.middlewares.database import DatabaseSessionMiddleware
from bot.payments.delivery import notify_admins
from tests.fakes.bot_api import FakeBotAPI
from tests.support.processes import TEST_TOKEN


@pytest.mark.parametrize(
    ("factory", "data"),
    [
        (ProductCard, "prod:abc:0"),
        (ProductCard, "prod:0:0"),
        (ProductCard, "prod:-1:0"),
        (ProductCard, f"prod:{2**31}:0"),
        (ProductCard, "prod:1:-1"),
        (CategoryPage, "cat:1"),
        (Buy, "buy:1:2"),
        (Buy, "prod:1"),
        (AdminProduct, "admp:explode:1"),
    ],
)
def test_forged_callback_data_does_not_unpack(factory: Any, data: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        factory.unpack(data)


def test_an_admin_who_blocked_the_bot_does_not_stop_the_other_notices(
    fake_api: FakeBotAPI,
) -> None:
    fake_api.set_failure("sendMessage", error_code=403, description="Forbidden: bot was blocked")

    async def notify() -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake_api.url))
        async with Bot(TEST_TOKEN, session=session) as bot:
            await notify_admins(bot, {9002, 9001, 9003}, "💰 sold")

    asyncio.run(notify())
    calls = fake_api.calls_of("sendMessage")
    assert [call.params["chat_id"] for call in calls] == [9001, 9002, 9003]  # the first failed


async def test_session_per_update_commits_rolls_back_and_runs_after_commit(
    engine: AsyncEngine,
) -> None:
    await migration.migrate(engine)
    factory = create_session_factory(engine)
    middleware = DatabaseSessionMiddleware(factory)
    update = Update(update_id=1)
    seen_after_commit: list[list[str]] = []

    async def names() -> list[str]:
        async with factory() as session:
            return list(await session.scalars(select(Category.name).order_by(Category.name)))

    def adds(name: str, *, fail: bool) -> Callable[[Any, dict[str, Any]], Awaitable[str]]:
        async def handler(event: Any, data: dict[str, Any]) -> str:
            await data["shop"].categories.create(name)

            async def look() -> None:
                seen_after_commit.append(await names())

            data["after_commit"](look)
            if fail:
                raise RuntimeError("handler failed")
            return "done"

        return handler

    assert await middleware(adds("Books", fail=False), update, {}) == "done"
    with pytest.raises(RuntimeError):
        await middleware(adds("Courses", fail=True), update, {})
    assert await names() == ["Books"]
    assert seen_after_commit == [["Books"]]  # after the commit, and never after a rollback


async def test_a_lookup_that_finds_nothing_answers_the_button_as_stale() -> None:
    answers: list[str | None] = []

    class Button:
        async def answer(self, text: str | None = None) -> None:
            answers.append(text)

    async def lookup(found: str | None) -> str | None:
        return found

    button: Any = Button()
    assert await load_or_stale(button, lookup("product")) == "product"
    assert answers == []
    assert await load_or_stale(button, lookup(None)) is None
    assert answers == [STALE]
