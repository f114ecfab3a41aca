"""The webhook handles at most UPDATES_IN_FLIGHT updates at once, as polling does with
aiogram's `tasks_concurrency_limit`: the others wait for a turn and are all answered."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.serving.webhook import _CheckedRequestHandler
from tests.fakes import FakeTelegram, RecordingSession
from tests.support.processes import TEST_TOKEN

SECRET = "in-flight-secret"
PATH = "/telegram/webhook"
IN_FLIGHT = 2
UPDATES = 6


async def test_the_webhook_handles_at_most_updates_in_flight_and_answers_every_one() -> None:
    dispatcher = Dispatcher()
    running = most = 0
    release = asyncio.Event()
    bound_reached = asyncio.Event()

    @dispatcher.message()
    async def held(message: Message) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if running == IN_FLIGHT:
            bound_reached.set()
        await release.wait()
        running -= 1

    telegram = FakeTelegram()
    bot = Bot(token=TEST_TOKEN, session=RecordingSession(telegram))
    webhook = _CheckedRequestHandler(
        dispatcher, bot, handle_in_background=False, secret_token=SECRET, in_flight=IN_FLIGHT
    )
    webhook.serving = True
    arrived = 0
    all_arrived = asyncio.Event()

    @web.middleware
    async def count_arrivals(request: web.Request, handler: Any) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        if arrived == UPDATES:
            all_arrived.set()
        return await handler(request)

    app = web.Application(middlewares=[count_arrivals])
    webhook.register(app, path=PATH)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with TestClient(TestServer(app)) as client:
        posts = [
            asyncio.create_task(
                client.post(
                    PATH,
                    json={"update_id": index, **telegram.text_update(9000 + index, "hi")},
                    headers=headers,
                )
            )
            for index in range(1, UPDATES + 1)
        ]
        await asyncio.wait_for(asyncio.gather(all_arrived.wait(), bound_reached.wait()), 30)
        await asyncio.sleep(0.2)  # room for any request past the bound to start, were it let
        assert running == IN_FLIGHT
        release.set()
        statuses = [(await post).status for post in posts]
    await bot.session.close()

    assert most == IN_FLIGHT
    assert statuses == [200] * UPDATES


def test_the_bound_is_a_setting_with_a_default() -> None:
    settings = Settings(_env_file=None, bot_token=TEST_TOKEN, updates_in_flight=5)  # type: ignore[call-arg]
    assert settings.updates_in_flight == 5
    assert Settings.model_fields["updates_in_flight"].default == 64
