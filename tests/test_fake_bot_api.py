"""The fake Bot API server, exercised through a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    Update,
)

from tests.fakes import Call, FakeBotAPI

TOKEN = "123456:TEST"
USER_ID = 1001
T = TypeVar("T")


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


def with_bot(fake: FakeBotAPI, scenario: Callable[[Bot], Awaitable[T]]) -> T:
    """Run ``scenario`` with a real aiogram Bot pointed at the fake server."""

    async def main() -> T:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
        bot = Bot(token=TOKEN, session=session)
        try:
            return await scenario(bot)
        finally:
            # Not session.close(): it sleeps 0.25 s for TLS connections we don't have.
            await (await session.create_session()).close()

    return asyncio.run(main())


def raw_post(url: str, **kwargs: object) -> tuple[int, dict]:
    async def main() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:
            return resp.status, await resp.json()

    return asyncio.run(main())


def test_get_me_returns_configured_bot() -> None:
    with FakeBotAPI(bot_id=777, bot_username="my_shop_bot") as fake:
        me = with_bot(fake, lambda bot: bot.get_me())
        calls = fake.calls_of("getMe")

    assert (me.id, me.username, me.is_bot) == (777, "my_shop_bot", True)
    assert [call.token for call in calls] == [TOKEN]


def test_send_message_echoes_and_records_decoded_params(fake: FakeBotAPI) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy:1")]]
    )
    message = with_bot(fake, lambda bot: bot.send_message(USER_ID, "100", reply_markup=keyboard))

    assert message.chat.id == USER_ID
    assert message.chat.type == "private"
    assert message.text == "100"
    assert message.from_user is not None and message.from_user.id == fake.bot_id
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == keyboard.model_dump()
    call = fake.wait_for("sendMessage", timeout=1)
    assert call.params["chat_id"] == USER_ID
    assert call.params["text"] == "100"  # free text stays a string
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Buy", "callback_data": "buy:1"}]]
    }


def test_long_poll_returns_pushed_update_and_offset_confirms_it(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> None:
        pusher = threading.Timer(0.3, fake.send_text, args=(USER_ID, "hello"))
        started = time.monotonic()
        pusher.start()
        updates = await bot.get_updates(timeout=5)
        assert time.monotonic() - started < 2
        assert [update.message.text for update in updates if update.message] == ["hello"]
        # Not confirmed yet: delivered again.
        again = await bot.get_updates(timeout=0)
        assert [update.update_id for update in again] == [updates[0].update_id]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []

    with_bot(fake, scenario)
    assert fake.updates_served == 2


def test_long_poll_times_out_with_no_updates(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> float:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == []
        return time.monotonic() - started

    elapsed = with_bot(fake, scenario)
    assert 0.9 <= elapsed < 2.5


def test_stop_answers_in_flight_long_poll() -> None:
    fake = FakeBotAPI()
    fake.start()

    async def scenario(bot: Bot) -> float:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(fake.wait_for, "getUpdates", timeout=2)
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert await poll == []
        return time.monotonic() - started

    assert with_bot(fake, scenario) < 2
    fake.stop()  # idempotent


def test_delete_webhook_can_drop_pending_updates(fake: FakeBotAPI) -> None:
    fake.send_text(USER_ID, "stale")

    async def scenario(bot: Bot) -> None:
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        assert await bot.get_updates(timeout=0) == []

    with_bot(fake, scenario)


def test_unknown_method_is_recorded_and_answers_404(fake: FakeBotAPI) -> None:
    status, body = raw_post(f"{fake.url}/bot{TOKEN}/launchRocket", data={"speed": "9"})

    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    [call] = fake.calls_of("LAUNCHROCKET")
    assert (call.method, call.params, call.token) == ("launchRocket", {"speed": 9}, TOKEN)


def test_unknown_path_answers_404_without_recording(fake: FakeBotAPI) -> None:
    status, body = raw_post(f"{fake.url}/nobot/getMe")

    assert (status, body["ok"], body["error_code"]) == (404, False, 404)
    assert fake.calls == []


def test_json_body_and_query_string_params_are_accepted(fake: FakeBotAPI) -> None:
    base = f"{fake.url}/bot{TOKEN}/sendMessage"
    json_status, json_body = raw_post(base, json={"chat_id": 5, "text": "via json"})
    query_status, query_body = raw_post(f"{base}?chat_id=6&text=via+query")

    assert (json_status, json_body["result"]["text"]) == (200, "via json")
    assert (query_status, query_body["result"]["chat"]["id"]) == (200, 6)
    assert [call.params for call in fake.calls_of("sendMessage")] == [
        {"chat_id": 5, "text": "via json"},
        {"chat_id": 6, "text": "via query"},
    ]


def test_set_failure_raises_telegram_errors_then_recovers(fake: FakeBotAPI) -> None:
    fake.set_failure("sendMessage", error_code=400, description="Bad Request: chat not found")
    fake.set_failure("getMe", error_code=404, description="Not Found", times=2)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(USER_ID, "hi")
        assert (await bot.send_message(USER_ID, "hi")).text == "hi"
        for _ in range(2):
            with pytest.raises(TelegramNotFound):
                await bot.get_me()
        assert (await bot.get_me()).id == fake.bot_id

    with_bot(fake, scenario)
    assert len(fake.calls_of("sendMessage")) == 2


def test_send_invoice_in_stars_returns_invoice_message(fake: FakeBotAPI) -> None:
    prices = [LabeledPrice(label="Item", amount=50), LabeledPrice(label="Bonus", amount=25)]
    message = with_bot(
        fake,
        lambda bot: bot.send_invoice(
            USER_ID,
            title="E-book",
            description="A great book",
            payload="order:7",
            currency="XTR",
            prices=prices,
        ),
    )

    assert message.invoice is not None
    assert (message.invoice.title, message.invoice.currency) == ("E-book", "XTR")
    assert message.invoice.total_amount == 75
    call = fake.wait_for("sendInvoice", timeout=1)
    assert call.params["prices"] == [
        {"label": "Item", "amount": 50},
        {"label": "Bonus", "amount": 25},
    ]
    assert call.params["payload"] == "order:7"


def test_send_document_by_file_id_and_by_upload(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> None:
        by_id = await bot.send_document(USER_ID, "FILE123", caption="Your file")
        assert by_id.document is not None and by_id.document.file_id == "FILE123"
        assert by_id.caption == "Your file"

        upload = BufferedInputFile(b"hello", filename="book.pdf")
        uploaded = await bot.send_document(USER_ID, upload)
        assert uploaded.document is not None
        assert (uploaded.document.file_name, uploaded.document.file_size) == ("book.pdf", 5)

    with_bot(fake, scenario)
    by_id, uploaded = fake.calls_of("sendDocument")
    assert by_id.params["document"] == "FILE123"
    assert uploaded.params["document"]["filename"] == "book.pdf"
    assert uploaded.params["document"]["size"] == 5


def test_edit_message_text_updates_the_message_a_button_is_on(fake: FakeBotAPI) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Pay", callback_data="pay")]]
    )

    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(USER_ID, "Cart", reply_markup=keyboard)
        edited = await bot.edit_message_text("Paid", chat_id=USER_ID, message_id=sent.message_id)
        assert not isinstance(edited, bool)
        assert (edited.message_id, edited.text, edited.reply_markup) == (
            sent.message_id,
            "Paid",
            None,
        )
        assert edited.edit_date is not None

    with_bot(fake, scenario)
    update = fake.get_update(fake.press_button(USER_ID, "pay"))
    assert update["callback_query"]["message"]["text"] == "Paid"


def test_builders_produce_updates_aiogram_accepts(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(
            USER_ID,
            "Pick one",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="pick:a")]]
            ),
        )
        ids = [
            fake.send_text(USER_ID, "/start ref_42", username="alice", first_name="Alice"),
            fake.press_button(USER_ID, "pick:a"),
            fake.pre_checkout(USER_ID, currency="XTR", total_amount=75, payload="order:7"),
            fake.successful_payment(
                USER_ID, currency="XTR", total_amount=75, payload="order:7", charge_id="ch-1"
            ),
            fake.send_document(USER_ID, file_id="DOC1", file_name="product.zip"),
        ]
        assert ids == [1, 2, 3, 4, 5]
        for update_id in ids:
            Update.model_validate(fake.get_update(update_id), context={"bot": bot})
        text, button, checkout, payment, document = await bot.get_updates(timeout=0)

        assert text.message is not None and text.message.text == "/start ref_42"
        assert text.message.from_user is not None and text.message.from_user.username == "alice"
        [entity] = text.message.entities or []
        assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len("/start"))

        callback = button.callback_query
        assert callback is not None and callback.data == "pick:a"
        assert callback.from_user.username == "alice"  # profile remembered from send_text
        assert callback.message is not None and callback.message.message_id == sent.message_id
        assert callback.message.reply_markup is not None and sent.reply_markup is not None
        assert callback.message.reply_markup.model_dump() == sent.reply_markup.model_dump()

        query = checkout.pre_checkout_query
        assert query is not None and query.invoice_payload == "order:7"
        assert (query.currency, query.total_amount) == ("XTR", 75)

        assert payment.message is not None and payment.message.successful_payment is not None
        assert payment.message.successful_payment.telegram_payment_charge_id == "ch-1"

        assert document.message is not None and document.message.document is not None
        assert document.message.document.file_id == "DOC1"
        assert document.message.document.file_name == "product.zip"

        assert await bot.answer_callback_query(callback.id) is True
        assert await bot.answer_pre_checkout_query(query.id, ok=True) is True

    with_bot(fake, scenario)
    callback_id = fake.get_update(2)["callback_query"]["id"]
    answer = fake.wait_for("answerCallbackQuery", timeout=1)
    assert answer.params["callback_query_id"] == callback_id


def test_aiogram_dispatcher_polls_updates_and_replies(fake: FakeBotAPI) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"welcome, {command.args}")

    async def scenario(bot: Bot) -> Call:
        polling = asyncio.create_task(
            dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
        )
        await asyncio.to_thread(fake.wait_for, "getUpdates", timeout=5)
        mark = fake.mark()
        fake.send_text(USER_ID, "/start ref_1")
        reply = await asyncio.to_thread(fake.wait_for, "sendMessage", timeout=5, after=mark)
        await dispatcher.stop_polling()
        await polling
        return reply

    reply = with_bot(fake, scenario)
    assert reply.params == {"chat_id": USER_ID, "text": "welcome, ref_1"}


def test_wait_for_sees_calls_from_other_threads_after_mark(fake: FakeBotAPI) -> None:
    with_bot(fake, lambda bot: bot.send_message(USER_ID, "old"))
    mark = fake.mark()
    sender = threading.Timer(
        0.2, with_bot, args=(fake, lambda bot: bot.send_message(USER_ID, "new"))
    )
    sender.start()

    call = fake.wait_for("sendmessage", lambda c: c.params["chat_id"] == USER_ID, after=mark)
    sender.join()

    assert isinstance(call, Call)
    assert (call.index, call.params["text"]) == (mark, "new")


def test_wait_for_timeout_raises_readable_assertion(fake: FakeBotAPI) -> None:
    with_bot(fake, lambda bot: bot.send_message(USER_ID, "something else"))

    started = time.monotonic()
    with pytest.raises(AssertionError, match="no sendInvoice call") as failure:
        fake.wait_for("sendInvoice", timeout=0.2)

    assert time.monotonic() - started < 1
    assert "sendMessage" in str(failure.value)
