"""Driving the real bot like Telegram users do, through the fake Bot API, and reading its DB."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.database import create_engine, create_session_factory
from tests.fakes.bot_api import Call, FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import BotProcess, bot_env
from tests.support.waiting import eventually

T = TypeVar("T")
SCREEN_METHODS = ("sendmessage", "editmessagetext")


class ShopBot:
    """A running bot process, the fake Bot API it polls, and its database.

    Handlers answer before the middleware commits, and aiogram handles updates concurrently,
    so each step (and each database read) first waits (`settle`) until aiogram has logged
    every update pushed so far as finished: steps happen one after another, as a person's do.
    """

    def __init__(self, process: BotProcess, fake: FakeBotAPI, database: ThrowawayDatabase) -> None:
        self.process = process
        self.fake = fake
        self.database = database
        self._unsettled: set[int] = set()
        self._last_update = 0

    def pushed(self, update_id: int) -> int:
        self._unsettled.add(update_id)
        self._last_update = max(self._last_update, update_id)
        return update_id

    def settle(self, timeout: float = 30) -> None:
        def unfinished() -> set[int]:
            output = self.process.output
            return {update for update in self._unsettled if f"Update id={update} is " not in output}

        eventually(unfinished, lambda left: not left, timeout=timeout)
        self._unsettled.clear()

    def stop(self) -> None:
        """Stop the bot once it has confirmed every update, so none is delivered again."""
        self.settle()
        self.fake.wait_for(
            "getUpdates", lambda call: call.params.get("offset", 0) > self._last_update
        )
        assert self.process.stop() == 0, self.process.output[-3000:]

    def chat(self, user_id: int, first_name: str = "Test") -> Chat:
        return Chat(self, user_id, first_name)

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        self.settle()
        return in_session(self.database, work)

    def rows(self, model: Any, *where: Any) -> list[Any]:
        self.settle()
        return all_rows(self.database, model, *where)

    def pay(
        self, user_id: int, *, currency: str, total_amount: int, payload: str, charge_id: str
    ) -> int:
        """Play Telegram's successful_payment service message (Stars have no provider charge)."""
        return self.pushed(
            self.fake.successful_payment(
                user_id,
                currency=currency,
                total_amount=total_amount,
                payload=payload,
                charge_id=charge_id,
                provider_charge_id="" if currency == "XTR" else f"provider-{charge_id}",
            )
        )


@contextmanager
def running_bot(
    database: ThrowawayDatabase, fake: FakeBotAPI, tmp_path: Path, **settings: str
) -> Iterator[ShopBot]:
    """`python main.py` polling `fake`, yielded once it has migrated and asked for updates.

    On the way out it checks the log holds no traceback, and prints the log for failures.
    """
    mark = fake.mark()
    process = BotProcess([], bot_env(database, api_url=fake.url, **settings), tmp_path)
    with process:
        try:
            fake.wait_for("getUpdates", after=mark, timeout=60)
            shop = ShopBot(process, fake, database)
            yield shop
            shop.settle()
            assert "Traceback" not in process.output, process.output[-5000:]
        finally:
            print(process.output[-8000:])


@dataclass(frozen=True)
class Screen:
    """A message the bot sent or edited, with its inline buttons."""

    call: Call

    @property
    def text(self) -> str:
        return str(self.call.params["text"])

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.call.params.get("reply_markup") or {}
        return [
            (button["text"], button["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons]

    def button(self, part: str) -> str:
        """The callback data of the one button whose label contains `part`."""
        found = [data for label, data in self.buttons if part in label]
        assert len(found) == 1, f"{len(found)} buttons with {part!r} in {self.labels}"
        return found[0]


@dataclass(frozen=True)
class Pressed:
    answer: Call  # answerCallbackQuery
    calls: list[Call]  # the bot's calls for this chat while handling the press

    @property
    def notice(self) -> str | None:
        return self.answer.params.get("text")

    @property
    def screen(self) -> Screen:
        screens = [call for call in self.calls if call.method.lower() in SCREEN_METHODS]
        assert screens, f"no screen shown; notice {self.notice!r}, calls {self.calls}"
        return Screen(screens[-1])

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]


class Chat:
    """One Telegram user in a private chat with the bot."""

    def __init__(self, shop: ShopBot, user_id: int, first_name: str = "Test") -> None:
        self.shop = shop
        self.fake = shop.fake
        self.user_id = user_id
        self.first_name = first_name

    def _mine(self, call: Call) -> bool:
        return call.params.get("chat_id") == self.user_id

    def calls_since(self, mark: int, until: int | None = None) -> list[Call]:
        return [call for call in self.fake.calls[mark:until] if self._mine(call)]

    def send(self, text: str) -> Screen:
        """Send a message and return the bot's reply."""
        self.shop.settle()
        mark = self.fake.mark()
        self.shop.pushed(self.fake.send_text(self.user_id, text, first_name=self.first_name))
        return Screen(self.fake.wait_for("sendMessage", self._mine, after=mark))

    def send_document(self, file_id: str) -> Screen:
        self.shop.settle()
        mark = self.fake.mark()
        self.shop.pushed(self.fake.send_document(self.user_id, file_id=file_id))
        return Screen(self.fake.wait_for("sendMessage", self._mine, after=mark))

    def press(self, data: str) -> Pressed:
        """Press a button with this callback data; every handler answers the query last."""
        self.shop.settle()
        mark = self.fake.mark()
        update_id = self.shop.pushed(self.fake.press_button(self.user_id, data))
        query_id = self.fake.get_update(update_id)["callback_query"]["id"]
        answer = self.fake.wait_for(
            "answerCallbackQuery",
            lambda call: call.params.get("callback_query_id") == query_id,
            after=mark,
        )
        return Pressed(answer=answer, calls=self.calls_since(mark, answer.index))

    def tap(self, screen: Screen, label: str) -> Screen:
        return self.press(screen.button(label)).screen

    def pre_checkout(self, *, currency: str, total_amount: int, payload: str) -> Call:
        """Play Telegram's pre-checkout query; return the bot's answerPreCheckoutQuery."""
        self.shop.settle()
        mark = self.fake.mark()
        update_id = self.shop.pushed(
            self.fake.pre_checkout(
                self.user_id, currency=currency, total_amount=total_amount, payload=payload
            )
        )
        query_id = self.fake.get_update(update_id)["pre_checkout_query"]["id"]
        return self.fake.wait_for(
            "answerPreCheckoutQuery",
            lambda call: call.params.get("pre_checkout_query_id") == query_id,
            after=mark,
        )


def texts(calls: list[Call]) -> list[str]:
    return [str(call.params["text"]) for call in calls if call.method.lower() == "sendmessage"]


def documents(calls: list[Call]) -> list[str]:
    return [str(call.params["document"]) for call in calls if call.method.lower() == "senddocument"]


def in_session(database: ThrowawayDatabase, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on a fresh engine (not the bot's)."""

    async def main() -> T:
        engine = create_engine(database.url)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def count_rows(database: ThrowawayDatabase, model: Any, *where: Any) -> int:
    async def count(session: AsyncSession) -> int:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return in_session(database, count)


def all_rows(database: ThrowawayDatabase, model: Any, *where: Any) -> list[Any]:
    async def rows(session: AsyncSession) -> list[Any]:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))

    return in_session(database, rows)
