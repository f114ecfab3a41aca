"""Driving the real bot in-process like Telegram users do, and reading its database.

`running_shop` builds the dispatcher exactly as the bot does (`bot.app.build_dispatcher`) on a
real database migrated to head, with a Bot whose session is the fake Telegram
(`tests.fakes.RecordingSession`). Each step feeds updates through `Dispatcher.feed_update`
and returns once the bot has handled them (transaction committed, after-commit actions done),
so a test reads the Bot API calls they caused and the rows they wrote without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.utils.token import extract_bot_id
from loguru import logger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.app import build_bot, build_dispatcher
from bot.config import Settings
from bot.dao.database import create_engine, create_session_factory
from bot.dao.models import Category, Product
from bot.log import InterceptHandler
from bot.migration import migrate
from bot.serving.startup import SchemaMode
from tests.fakes import Call, FakeTelegram, RecordingSession
from tests.fakes.telegram import JSONDict
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import TEST_TOKEN

T = TypeVar("T")
SCREEN_METHODS = ("sendmessage", "editmessagetext")
STALE = "This button is out of date."  # the README's answer to an old or forged button


class FileServingSession(RecordingSession):
    """The in-process session, also serving the files users sent (`FakeTelegram.add_file`)
    to `Bot.download`, as Telegram's file URLs do."""

    async def stream_content(
        self, url: str, *args: Any, **kwargs: Any
    ) -> AsyncGenerator[bytes, None]:
        yield self.telegram.file_content(url.partition("/file/bot")[2].partition("/")[2])


@contextmanager
def stdlib_logs_in_loguru() -> Iterator[None]:
    """aiogram's and SQLAlchemy's errors reach the bot's log, as the process's logging set-up
    routes them (bot.log), whichever tests ran before in this worker."""
    root = logging.getLogger()
    if any(isinstance(handler, InterceptHandler) for handler in root.handlers):
        yield
        return
    handler = InterceptHandler(level=logging.WARNING)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def build_shop_dispatcher(
    settings: Settings, engine: AsyncEngine, read_engine: AsyncEngine | None = None
) -> Dispatcher:
    """The one call into the bot's wiring: a change of its signature is fixed here."""
    return build_dispatcher(
        settings, engine, SchemaMode.MIGRATE, strict_transactions=True, read_engine=read_engine
    )


def release_routers(dispatcher: Dispatcher) -> None:
    """Let the handlers' module-level routers join the next test's dispatcher: aiogram lets a
    Router have one parent, as a process builds one dispatcher."""
    for router in dispatcher.sub_routers:
        router._parent_router = None
    dispatcher.sub_routers.clear()


class ShopBot:
    """The dispatcher, its Bot on the fake Telegram, the database, and the bot's log."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, engine: AsyncEngine) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.telegram: FakeTelegram = bot.session.telegram  # type: ignore[attr-defined]
        self.engine = engine
        self.log: list[str] = []
        self._update_ids = count(1)

    async def feed(self, *bodies: JSONDict) -> None:
        """Hand updates to the dispatcher; several at once run concurrently, as polling
        runs them. A method a handler returns is called, as polling calls it."""
        updates = [
            Update.model_validate(
                {"update_id": next(self._update_ids), **body}, context={"bot": self.bot}
            )
            for body in bodies
        ]
        answers = await asyncio.gather(
            *(self.dispatcher.feed_update(self.bot, update) for update in updates)
        )
        for answer in answers:
            if isinstance(answer, TelegramMethod):
                await self.bot(answer)

    def chat(self, user_id: int, first_name: str = "Test") -> Chat:
        return Chat(self, user_id, first_name)

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one committed transaction of its own."""
        async with create_session_factory(self.engine)() as session, session.begin():
            return await work(session)

    async def add_product(self, category: str, **fields: Any) -> int:
        """A product (Product's columns as `fields`) in a new category; its id."""

        async def add(session: AsyncSession) -> int:
            product = Product(category=Category(name=category), **fields)
            session.add(product)
            await session.flush()
            return product.id

        return await self.run(add)

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async def read(session: AsyncSession) -> list[Any]:
            return list(await session.scalars(select(model).where(*where).order_by(model.id)))

        return await self.run(read)


@asynccontextmanager
async def running_shop(database: ThrowawayDatabase, **settings: Any) -> AsyncIterator[ShopBot]:
    """The bot on `database` (migrated to head) with these settings (Settings' field names).

    On the way out it checks that the bot logged no traceback, as a process's log would show.
    """
    journal_dir = tempfile.TemporaryDirectory(prefix="shopbot-journal-")
    journal = Path(journal_dir.name) / "payments.journal"
    settings = {"bot_token": TEST_TOKEN, "payments_journal": journal, **settings}
    config = Settings(_env_file=None, database_url=database.url_string, **settings)  # type: ignore[call-arg]
    engine = create_engine(config.database)
    read_url = config.database_read
    read_engine = None if read_url is None else create_engine(read_url)
    try:
        await migrate(engine)
        # The bot's own defaults (HTML) and retries, on the fake Telegram.
        telegram = FakeTelegram(bot_id=extract_bot_id(config.bot_token.get_secret_value()))
        bot = build_bot(config, session=FileServingSession(telegram))
        dispatcher = build_shop_dispatcher(config, engine, read_engine)
        shop = ShopBot(dispatcher, bot, engine)
        sink = logger.add(shop.log.append, level="DEBUG", format="{level} | {name} | {message}")
        try:
            with stdlib_logs_in_loguru():
                yield shop
        finally:
            logger.remove(sink)
            release_routers(dispatcher)
            await dispatcher.storage.close()
        tracebacks = [entry for entry in shop.log if "Traceback" in entry]
        assert not tracebacks, "\n".join(tracebacks)
    finally:
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()
        journal_dir.cleanup()


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
        self.telegram = shop.telegram
        self.user_id = user_id
        self.first_name = first_name

    def calls_since(self, mark: int, until: int | None = None) -> list[Call]:
        """The bot's calls for this chat (messages, edits, invoices) from `mark` on."""
        return [
            call
            for call in self.telegram.calls[mark:until]
            if call.params.get("chat_id") == self.user_id
        ]

    async def _reply(self, body: JSONDict) -> Screen:
        mark = self.telegram.mark()
        await self.shop.feed(body)
        replies = [call for call in self.calls_since(mark) if call.method == "sendMessage"]
        assert replies, f"no reply; calls {self.telegram.calls[mark:]}"
        return Screen(replies[0])

    async def send(self, text: str) -> Screen:
        """Send a message; the bot's reply."""
        return await self._reply(
            self.telegram.text_update(self.user_id, text, first_name=self.first_name)
        )

    async def send_document(self, file_id: str, file_name: str = "file.bin") -> Screen:
        return await self._reply(
            self.telegram.document_update(self.user_id, file_id=file_id, file_name=file_name)
        )

    async def send_photo(self, file_id: str, caption: str | None = None) -> Screen:
        """Send a photo (Telegram's sizes of it, the largest last), with a caption or not."""
        body = self.telegram.text_update(self.user_id, "-", first_name=self.first_name)
        message = body["message"]
        del message["text"]
        message.pop("entities", None)
        message["photo"] = [
            {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": file_id, "file_unique_id": "l", "width": 800, "height": 800},
        ]
        if caption is not None:
            message["caption"] = caption
        return await self._reply(body)

    async def press(self, data: str) -> Pressed:
        """Press a button with this callback data on the last message the bot sent here;
        every handler answers the query last."""
        body = self.telegram.button_update(self.user_id, data)
        query_id = body["callback_query"]["id"]
        mark = self.telegram.mark()
        await self.shop.feed(body)
        [answer] = [
            call
            for call in self.telegram.calls_of("answerCallbackQuery")
            if call.params["callback_query_id"] == query_id
        ]
        return Pressed(answer=answer, calls=self.calls_since(mark, answer.index))

    async def tap(self, screen: Screen, label: str) -> Screen:
        return (await self.press(screen.button(label))).screen

    async def pre_checkout(self, *, currency: str, total_amount: int, payload: str) -> Call:
        """Play Telegram's pre-checkout query; the bot's answerPreCheckoutQuery."""
        body = self.telegram.pre_checkout_update(
            self.user_id, currency=currency, total_amount=total_amount, payload=payload
        )
        query_id = body["pre_checkout_query"]["id"]
        await self.shop.feed(body)
        [answer] = [
            call
            for call in self.telegram.calls_of("answerPreCheckoutQuery")
            if call.params["pre_checkout_query_id"] == query_id
        ]
        return answer

    async def pay(
        self, *, currency: str, total_amount: int, payload: str, charge_id: str, copies: int = 1
    ) -> None:
        """Play Telegram's successful_payment service message (Stars have no provider
        charge); `copies` > 1 delivers it that many times at once, as a repeated update."""
        body = self.telegram.payment_update(
            self.user_id,
            currency=currency,
            total_amount=total_amount,
            payload=payload,
            charge_id=charge_id,
            provider_charge_id="" if currency == "XTR" else f"provider-{charge_id}",
        )
        await self.shop.feed(*[body] * copies)


def texts(calls: list[Call]) -> list[str]:
    return [str(call.params["text"]) for call in calls if call.method.lower() == "sendmessage"]


def documents(calls: list[Call]) -> list[str]:
    return [str(call.params["document"]) for call in calls if call.method.lower() == "senddocument"]
