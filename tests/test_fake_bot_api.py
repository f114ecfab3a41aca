"""The fake Telegram, through a real aiogram Bot: its rules on both transports (real HTTP for
the bot process, the in-process recording session for handler tests), then what only the
HTTP server does (long polling, raw requests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    Update,
)

from tests.fakes import Call, FakeBotAPI, FakeTelegram, RecordingSession
from tests.fakes.html_rules import HTMLParseError, parse_html

TOKEN = "123456:TEST"
USER_ID = 1001
T = TypeVar("T")
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy:1")]]
)
OTHER_KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Pay", callback_data="pay:1")]]
)
CANT_PARSE = "Bad Request: can't parse entities: "


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


def http_bot(fake: FakeBotAPI, **bot_options: Any) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
    return Bot(token=TOKEN, session=session, **bot_options)


async def close_http(bot: Bot) -> None:
    # Not session.close(): it sleeps 0.25 s for TLS connections we don't have.
    await (await bot.session.create_session()).close()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Connected:
    telegram: FakeTelegram
    bot: Bot


@asynccontextmanager
async def connected(transport: str, **bot_options: Any) -> AsyncIterator[Connected]:
    if transport == "in-process":
        telegram = FakeTelegram()
        yield Connected(
            telegram, Bot(token=TOKEN, session=RecordingSession(telegram), **bot_options)
        )
        return
    with FakeBotAPI() as served:
        bot = http_bot(served, **bot_options)
        try:
            yield Connected(served, bot)
        finally:
            await close_http(bot)


@pytest.fixture(params=["http", "in-process"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Connected]:
    """A Bot talking to the fake Telegram over HTTP, or through the recording session."""
    async with connected(request.param) as both:
        yield both


@pytest.fixture(params=["http", "in-process"])
async def html_api(request: pytest.FixtureRequest) -> AsyncIterator[Connected]:
    """The same, with the bot's own default: every text and caption sent as HTML."""
    async with connected(
        request.param, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
    ) as both:
        yield both


def with_bot(fake: FakeBotAPI, scenario: Callable[[Bot], Awaitable[T]]) -> T:
    """Run ``scenario`` with a real aiogram Bot pointed at the fake server, from sync code."""

    async def main() -> T:
        bot = http_bot(fake)
        try:
            return await scenario(bot)
        finally:
            await close_http(bot)

    return asyncio.run(main())


def raw_post(url: str, **kwargs: object) -> tuple[int, dict]:
    async def main() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:
            return resp.status, await resp.json()

    return asyncio.run(main())


# ---------------------------------------------------------------------------- the rules


async def test_get_me_returns_the_bot_and_records_the_token(api: Connected) -> None:
    me = await api.bot.get_me()

    assert (me.id, me.username, me.is_bot) == (api.telegram.bot_id, "fake_shop_bot", True)
    assert [call.token for call in api.telegram.calls_of("getMe")] == [TOKEN]


async def test_send_message_echoes_and_records_decoded_params(api: Connected) -> None:
    message = await api.bot.send_message(USER_ID, "100", reply_markup=KEYBOARD)

    assert (message.chat.id, message.chat.type, message.text) == (USER_ID, "private", "100")
    assert message.from_user is not None and message.from_user.id == api.telegram.bot_id
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == KEYBOARD.model_dump()
    [call] = api.telegram.calls_of("sendMessage")
    assert call.params == {
        "chat_id": USER_ID,
        "text": "100",  # free text stays a string
        "reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy:1"}]]},
    }


async def test_an_empty_text_is_refused_as_telegram_does(api: Connected) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await api.bot.send_message(USER_ID, "")

    assert refused.value.message == "Bad Request: message text is empty"
    assert len(api.telegram.calls_of("sendMessage")) == 1  # recorded all the same


async def test_set_failure_raises_telegram_errors_then_recovers(api: Connected) -> None:
    telegram, bot = api.telegram, api.bot
    telegram.set_failure("sendMessage", error_code=403, description="Forbidden: bot was blocked")
    telegram.set_failure("getMe", error_code=404, description="Not Found", times=2)

    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(USER_ID, "hi")
    assert (await bot.send_message(USER_ID, "hi")).text == "hi"
    for _ in range(2):
        with pytest.raises(TelegramNotFound):
            await bot.get_me()
    assert (await bot.get_me()).id == telegram.bot_id
    assert len(telegram.calls_of("sendMessage")) == 2


async def test_send_invoice_in_stars_returns_invoice_message(api: Connected) -> None:
    prices = [LabeledPrice(label="Item", amount=50), LabeledPrice(label="Bonus", amount=25)]
    message = await api.bot.send_invoice(
        USER_ID,
        title="E-book",
        description="A great book",
        payload="order:7",
        currency="XTR",
        prices=prices,
        provider_token="",
    )

    assert message.invoice is not None
    assert (message.invoice.title, message.invoice.currency) == ("E-book", "XTR")
    assert message.invoice.total_amount == 75
    [call] = api.telegram.calls_of("sendInvoice")
    assert call.params["prices"] == [
        {"label": "Item", "amount": 50},
        {"label": "Bonus", "amount": 25},
    ]
    assert call.params["payload"] == "order:7"
    assert "provider_token" not in call.params  # aiogram leaves an empty value out


async def test_send_invoice_without_prices_is_refused(api: Connected) -> None:
    with pytest.raises(TelegramBadRequest, match="prices must be non-empty"):
        await api.bot.send_invoice(
            USER_ID, title="E-book", description="d", payload="p", currency="XTR", prices=[]
        )


async def test_send_document_by_file_id_and_by_upload(api: Connected) -> None:
    by_id = await api.bot.send_document(USER_ID, "FILE123", caption="Your file")
    assert by_id.document is not None and by_id.document.file_id == "FILE123"
    assert by_id.caption == "Your file"

    uploaded = await api.bot.send_document(USER_ID, BufferedInputFile(b"hello", "book.pdf"))
    assert uploaded.document is not None
    assert (uploaded.document.file_name, uploaded.document.file_size) == ("book.pdf", 5)

    by_id_call, uploaded_call = api.telegram.calls_of("sendDocument")
    assert by_id_call.params["document"] == "FILE123"
    assert uploaded_call.params["document"]["filename"] == "book.pdf"
    assert uploaded_call.params["document"]["size"] == 5


async def test_edit_message_text_updates_the_message_a_button_is_on(api: Connected) -> None:
    sent = await api.bot.send_message(USER_ID, "Cart", reply_markup=KEYBOARD)
    edited = await api.bot.edit_message_text("Paid", chat_id=USER_ID, message_id=sent.message_id)

    assert not isinstance(edited, bool)
    assert (edited.message_id, edited.text, edited.reply_markup) == (sent.message_id, "Paid", None)
    assert edited.edit_date is not None
    pressed = api.telegram.button_update(USER_ID, "pay")
    assert pressed["callback_query"]["message"]["text"] == "Paid"


async def test_an_edit_that_changes_nothing_is_refused_as_not_modified(api: Connected) -> None:
    sent = await api.bot.send_message(USER_ID, "Cart", reply_markup=KEYBOARD)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await api.bot.edit_message_text(
            "Cart", chat_id=USER_ID, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    await api.bot.edit_message_text("Cart", chat_id=USER_ID, message_id=sent.message_id)


async def test_builders_produce_updates_aiogram_accepts(api: Connected) -> None:
    telegram = api.telegram
    sent = await api.bot.send_message(USER_ID, "Pick one", reply_markup=KEYBOARD)
    bodies = [
        telegram.text_update(USER_ID, "/start ref_42", username="alice", first_name="Alice"),
        telegram.button_update(USER_ID, "buy:1"),
        telegram.pre_checkout_update(USER_ID, currency="XTR", total_amount=75, payload="o:7"),
        telegram.payment_update(
            USER_ID, currency="XTR", total_amount=75, payload="o:7", charge_id="ch-1"
        ),
        telegram.document_update(USER_ID, file_id="DOC1", file_name="product.zip"),
    ]
    text, button, checkout, payment, document = (
        Update.model_validate({"update_id": number, **body}, context={"bot": api.bot})
        for number, body in enumerate(bodies, start=1)
    )

    assert text.message is not None and text.message.text == "/start ref_42"
    assert text.message.from_user is not None and text.message.from_user.username == "alice"
    [entity] = text.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len("/start"))

    callback = button.callback_query
    assert callback is not None and callback.data == "buy:1"
    assert callback.from_user.username == "alice"  # profile remembered from the text
    assert callback.message is not None and callback.message.message_id == sent.message_id
    assert callback.message.reply_markup is not None and sent.reply_markup is not None
    assert callback.message.reply_markup.model_dump() == sent.reply_markup.model_dump()

    query = checkout.pre_checkout_query
    assert query is not None and query.invoice_payload == "o:7"
    assert (query.currency, query.total_amount) == ("XTR", 75)

    assert payment.message is not None and payment.message.successful_payment is not None
    assert payment.message.successful_payment.telegram_payment_charge_id == "ch-1"

    assert document.message is not None and document.message.document is not None
    assert document.message.document.file_id == "DOC1"
    assert document.message.document.file_name == "product.zip"

    assert await api.bot.answer_callback_query(callback.id) is True
    assert await api.bot.answer_pre_checkout_query(query.id, ok=True) is True
    [answer] = telegram.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"] == callback.id


async def test_flood_control_and_server_errors_answer_as_telegram_does(api: Connected) -> None:
    """Failures set for one method come in the order set: a 429 carrying Telegram's
    ResponseParameters (retry_after), then a 5xx, then the real answer."""
    telegram, bot = api.telegram, api.bot
    telegram.set_flood_control("sendMessage", retry_after=3)
    telegram.set_server_error("sendMessage", error_code=502)

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(USER_ID, "hi")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(USER_ID, "hi")
    assert (await bot.send_message(USER_ID, "hi")).text == "hi"

    assert flood.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in flood.value.message
    assert [message["text"] for message in telegram.messages_in(USER_ID)] == ["hi"]


def test_a_429_body_has_telegrams_shape(fake: FakeBotAPI) -> None:
    fake.set_flood_control("sendMessage", retry_after=7)

    status, body = raw_post(f"{fake.url}/bot{TOKEN}/sendMessage", data={"chat_id": "1"})

    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


async def test_latency_delays_the_answer_of_one_method() -> None:
    telegram = FakeTelegram()
    bot = Bot(token=TOKEN, session=RecordingSession(telegram))
    telegram.set_latency(60, "sendMessage")

    slow = asyncio.create_task(bot.send_message(USER_ID, "hi"))
    assert (await bot.get_me()).id == telegram.bot_id  # other methods answer at once
    await asyncio.to_thread(telegram.wait_for, "sendMessage", timeout=10)

    assert not slow.done()  # received, not answered yet
    slow.cancel()
    assert telegram.messages_in(USER_ID) == []


async def test_group_builders_produce_updates_aiogram_accepts(api: Connected) -> None:
    telegram, group, supergroup = api.telegram, -4001, -1001234567890
    sent = await api.bot.send_message(group, "Menu", reply_markup=KEYBOARD)
    bodies = [
        telegram.group_text_update(USER_ID, "/start@fake_shop_bot now", chat_id=group),
        telegram.group_text_update(USER_ID, "hi @fake_shop_bot", chat_id=supergroup),
        telegram.group_text_update(
            USER_ID, "and this?", chat_id=group, reply_to_message_id=sent.message_id
        ),
        telegram.button_update(USER_ID, "buy:1", chat_id=group),
    ]
    command, mention, reply, button = (
        Update.model_validate({"update_id": number, **body}, context={"bot": api.bot})
        for number, body in enumerate(bodies, start=1)
    )

    assert command.message is not None and command.message.chat.type == "group"
    [entity] = command.message.entities or []
    assert (entity.type, entity.length) == ("bot_command", len("/start@fake_shop_bot"))
    assert mention.message is not None and mention.message.chat.type == "supergroup"
    [entity] = mention.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("mention", 3, len("@fake_shop_bot"))
    assert reply.message is not None and reply.message.reply_to_message is not None
    assert reply.message.reply_to_message.text == "Menu"
    callback = button.callback_query
    assert callback is not None and callback.message is not None
    assert (callback.message.chat.id, callback.message.message_id) == (group, sent.message_id)
    assert callback.from_user.id == USER_ID
    with pytest.raises(ValueError, match="negative"):
        telegram.group_text_update(USER_ID, "hi", chat_id=USER_ID)


# ---------------------------------------------------------------------------- photos, captions


async def test_send_photo_by_file_id_and_by_upload(api: Connected) -> None:
    by_id = await api.bot.send_photo(USER_ID, "PHOTO1", caption="Товар", reply_markup=KEYBOARD)
    uploaded = await api.bot.send_photo(USER_ID, BufferedInputFile(b"\xff\xd8jpeg", "a.jpg"))

    assert by_id.photo is not None and by_id.caption == "Товар"
    assert by_id.photo[-1].file_id == "PHOTO1"  # the largest size is the photo sent
    assert all(size.file_unique_id and size.width and size.height for size in by_id.photo)
    assert [size.width for size in by_id.photo] == sorted(size.width for size in by_id.photo)
    assert by_id.reply_markup is not None
    assert uploaded.photo is not None and uploaded.caption is None
    assert uploaded.photo[-1].file_size == 6
    by_id_call, uploaded_call = api.telegram.calls_of("sendPhoto")
    assert by_id_call.params["photo"] == "PHOTO1"
    assert uploaded_call.params["photo"]["filename"] == "a.jpg"
    [shown, _] = api.telegram.messages_in(USER_ID)
    assert shown["photo"][-1] == by_id.photo[-1].model_dump(exclude_none=True)


async def test_send_photo_without_a_photo_is_refused(api: Connected) -> None:
    with pytest.raises(TelegramBadRequest, match="there is no photo in the request"):
        await api.bot.send_photo(USER_ID, "")


async def test_edit_message_caption_changes_the_caption_and_the_keyboard(api: Connected) -> None:
    sent = await api.bot.send_photo(USER_ID, "PHOTO1", caption="Old", reply_markup=KEYBOARD)

    edited = await api.bot.edit_message_caption(
        chat_id=USER_ID, message_id=sent.message_id, caption="New", reply_markup=KEYBOARD
    )
    assert not isinstance(edited, bool)
    assert (edited.caption, edited.edit_date is not None) == ("New", True)
    assert edited.photo is not None and edited.photo[-1].file_id == "PHOTO1"
    assert edited.reply_markup is not None

    removed = await api.bot.edit_message_caption(chat_id=USER_ID, message_id=sent.message_id)
    assert not isinstance(removed, bool)
    assert (removed.caption, removed.reply_markup) == (None, None)  # like Telegram
    pressed = api.telegram.button_update(USER_ID, "buy:1", message_id=sent.message_id)
    assert "caption" not in pressed["callback_query"]["message"]


async def test_a_caption_edit_that_changes_nothing_is_refused(api: Connected) -> None:
    sent = await api.bot.send_document(USER_ID, "DOC1", caption="Same", reply_markup=KEYBOARD)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await api.bot.edit_message_caption(
            chat_id=USER_ID, message_id=sent.message_id, caption="Same", reply_markup=KEYBOARD
        )
    await api.bot.edit_message_caption(chat_id=USER_ID, message_id=sent.message_id, caption="Same")


async def test_a_text_message_has_no_caption_and_a_photo_no_text(api: Connected) -> None:
    text = await api.bot.send_message(USER_ID, "Cart")
    photo = await api.bot.send_photo(USER_ID, "PHOTO1", caption="Cart")

    with pytest.raises(TelegramBadRequest) as no_caption:
        await api.bot.edit_message_caption(
            chat_id=USER_ID, message_id=text.message_id, caption="Paid"
        )
    with pytest.raises(TelegramBadRequest) as no_text:
        await api.bot.edit_message_text("Paid", chat_id=USER_ID, message_id=photo.message_id)

    assert no_caption.value.message == "Bad Request: there is no caption in the message to edit"
    assert no_text.value.message == "Bad Request: there is no text in the message to edit"
    assert [m.get("text", m.get("caption")) for m in api.telegram.messages_in(USER_ID)] == [
        "Cart",
        "Cart",
    ]


async def test_edit_message_reply_markup_replaces_or_removes_the_keyboard(api: Connected) -> None:
    sent = await api.bot.send_message(USER_ID, "Cart", reply_markup=KEYBOARD)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await api.bot.edit_message_reply_markup(
            chat_id=USER_ID, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    replaced = await api.bot.edit_message_reply_markup(
        chat_id=USER_ID, message_id=sent.message_id, reply_markup=OTHER_KEYBOARD
    )
    assert not isinstance(replaced, bool) and replaced.reply_markup is not None
    assert replaced.reply_markup.inline_keyboard[0][0].callback_data == "pay:1"
    assert replaced.text == "Cart"
    removed = await api.bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id)
    assert not isinstance(removed, bool) and removed.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await api.bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id)


# ---------------------------------------------------------------------------- HTML and limits

VALID_HTML = (
    "<b>Заказ №7</b> — <i>оплачен</i>\n"
    "<b>bold <i>italic <u>under <s>struck</s></u></i></b> <strong>s</strong> <em>e</em> "
    "<ins>i</ins> <strike>x</strike> <del>d</del>\n"
    "<a href=\"https://example.com/?a=1&amp;b=2\">ссылка</a> <a href='tg://user?id=1'>u</a>\n"
    '<span class="tg-spoiler">spoiler</span> <tg-spoiler>also</tg-spoiler> '
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>\n'
    "<code>x &lt; y &amp;&amp; y &gt; z</code> &quot;q&quot; &#8381; &#x20BD;\n"
    '<pre><code class="language-python">print("hi")</code></pre>\n'
    "<blockquote>quote</blockquote><blockquote expandable>long</blockquote>\n"
    "AT&T, a > b, &nbsp; &copy; stay as typed; <B>tags</B> in any case, <i>closed by</>"
)


async def test_valid_html_is_accepted_and_stored_as_sent(html_api: Connected) -> None:
    message = await html_api.bot.send_message(USER_ID, VALID_HTML)
    photo = await html_api.bot.send_photo(USER_ID, "PHOTO1", caption="<b>Цена:</b> 100&nbsp;₽")
    document = await html_api.bot.send_document(USER_ID, "DOC1", caption="<i>файл</i>")
    edited = await html_api.bot.edit_message_text(
        "<i>Готово</i>", chat_id=USER_ID, message_id=message.message_id
    )
    recaptioned = await html_api.bot.edit_message_caption(
        chat_id=USER_ID, message_id=photo.message_id, caption="<u>Новая</u> подпись"
    )

    assert message.text == VALID_HTML
    assert (photo.caption, document.caption) == ("<b>Цена:</b> 100&nbsp;₽", "<i>файл</i>")
    assert not isinstance(edited, bool) and edited.text == "<i>Готово</i>"
    assert not isinstance(recaptioned, bool) and recaptioned.caption == "<u>Новая</u> подпись"
    [call] = html_api.telegram.calls_of("sendMessage")
    assert call.params["parse_mode"] == "HTML"  # the bot's default comes with each call


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("Цена <br> 5", 'Unsupported start tag "br" at byte offset 9'),  # UTF-8 bytes
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<3", "Unclosed start tag at byte offset 0"),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("done</b>", "Unexpected end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=https://x.y>x</a>", "Unexpected end of name token at byte offset 8"),
        ("<b/>", 'Unsupported start tag "b/" at byte offset 0'),
        ('<tg-emoji emoji-id="smile">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
async def test_html_telegram_cannot_parse_is_refused_in_its_words(
    html_api: Connected, html: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await html_api.bot.send_message(USER_ID, html)

    assert refused.value.message == CANT_PARSE + reason
    assert html_api.telegram.messages_in(USER_ID) == []


async def test_html_is_checked_in_captions_and_edits(html_api: Connected) -> None:
    bot, broken = html_api.bot, "<b>Цена</i>"
    sent = await bot.send_message(USER_ID, "Cart")
    photo = await bot.send_photo(USER_ID, "PHOTO1", caption="Photo")
    attempts = [
        bot.send_photo(USER_ID, "PHOTO1", caption=broken),
        bot.send_document(USER_ID, "DOC1", caption=broken),
        bot.edit_message_text(broken, chat_id=USER_ID, message_id=sent.message_id),
        bot.edit_message_caption(chat_id=USER_ID, message_id=photo.message_id, caption=broken),
    ]
    for attempt in attempts:
        with pytest.raises(TelegramBadRequest) as refused:
            await attempt
        assert refused.value.message == (
            CANT_PARSE + 'Unmatched end tag at byte offset 11, expected "</b>", found "</i>"'
        )
    shown = html_api.telegram.messages_in(USER_ID)
    assert [m.get("text", m.get("caption")) for m in shown] == ["Cart", "Photo"]


async def test_without_parse_mode_tags_are_plain_text(api: Connected) -> None:
    message = await api.bot.send_message(USER_ID, "<foo> & </b>")

    assert message.text == "<foo> & </b>"


async def test_a_text_that_shows_nothing_is_refused(html_api: Connected) -> None:
    for text in ("<b></b>", " \n ", "<i> </i>\n"):
        with pytest.raises(TelegramBadRequest) as refused:
            await html_api.bot.send_message(USER_ID, text)
        assert refused.value.message == "Bad Request: text must be non-empty"
    photo = await html_api.bot.send_photo(USER_ID, "PHOTO1", caption="<b></b>")
    assert photo.photo is not None  # an empty caption is no caption


async def test_length_limits_count_the_characters_shown(html_api: Connected) -> None:
    """4096 characters of text and 1024 of caption, counted after the tags are read (not
    bytes: Cyrillic counts one each); one more is refused."""
    bot = html_api.bot
    text, caption = "я" * 4096, "ж" * 1024
    sent = await bot.send_message(USER_ID, f"<b>{text[:10]}</b>{text[10:]}")
    photo = await bot.send_photo(USER_ID, "PHOTO1", caption=f"<i>{caption}</i>")
    await bot.send_document(USER_ID, "DOC1", caption=caption)
    await bot.edit_message_text(text + "\n ", chat_id=USER_ID, message_id=sent.message_id)

    refusals = {
        "Bad Request: message is too long": bot.send_message(USER_ID, text + "я"),
        "Bad Request: message caption is too long": bot.send_photo(
            USER_ID, "PHOTO1", caption=caption + "ж"
        ),
        "Bad Request: MESSAGE_TOO_LONG": bot.edit_message_text(
            text + "!", chat_id=USER_ID, message_id=sent.message_id
        ),
        "Bad Request: MEDIA_CAPTION_TOO_LONG": bot.edit_message_caption(
            chat_id=USER_ID, message_id=photo.message_id, caption=caption + "!"
        ),
    }
    for description, attempt in refusals.items():
        with pytest.raises(TelegramBadRequest) as refused:
            await attempt
        assert refused.value.message == description
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(USER_ID, "DOC1", caption=caption + "ж")


def test_html_refusals_over_http_have_telegrams_body(fake: FakeBotAPI) -> None:
    status, body = raw_post(
        f"{fake.url}/bot{TOKEN}/sendMessage",
        data={"chat_id": "1", "text": "<x>", "parse_mode": "HTML"},
    )

    assert (status, body) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": CANT_PARSE + 'Unsupported start tag "x" at byte offset 0',
        },
    )


@pytest.mark.parametrize(
    ("html", "shown"),
    [
        ("<b>x</b> &lt;&gt;&amp;&quot;", 'x <>&"'),
        ("&lt &amp5 &#65 &#x41; &#0; &#x110000;", "< &5 A A &#0; &#x110000;"),
        ("&LT; &foo; & ; AT&T", "&LT; &foo; & ; AT&T"),
        ('<a href="x">1</a><A HREF=X>2</a>', "12"),
        ("Привет, <b>мир</b>! 👋", "Привет, мир! 👋"),
    ],
)
def test_parse_html_decodes_entities_as_telegram_does(html: str, shown: str) -> None:
    assert parse_html(html) == shown


def test_parse_html_refuses_a_lone_surrogate_reference() -> None:
    with pytest.raises(HTMLParseError, match="invalid Unicode characters"):
        parse_html("&#xD83D;")


# ---------------------------------------------------------------------------- the HTTP server


def test_long_poll_returns_pushed_update_and_offset_confirms_it(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> None:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(fake.wait_for, "getUpdates")
        fake.send_text(USER_ID, "hello")
        # Woken by the push: well before the poll's own 30 s.
        updates = await asyncio.wait_for(poll, 10)
        assert [update.message.text for update in updates if update.message] == ["hello"]
        # Not confirmed yet: delivered again.
        again = await bot.get_updates(timeout=0)
        assert [update.update_id for update in again] == [updates[0].update_id]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []

    with_bot(fake, scenario)
    assert fake.updates_served == 2


def test_a_second_poller_ends_the_first_with_409_as_telegram_does(fake: FakeBotAPI) -> None:
    async def scenario(first: Bot) -> None:
        second = http_bot(fake)  # another instance of the same bot
        try:
            older = asyncio.create_task(first.get_updates(timeout=30))
            await asyncio.to_thread(fake.wait_for, "getUpdates")
            newer = asyncio.create_task(second.get_updates(timeout=30))
            with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
                await asyncio.wait_for(older, 10)
            fake.send_text(USER_ID, "hello")
            assert len(await asyncio.wait_for(newer, 10)) == 1  # the newer one polls on
        finally:
            await close_http(second)

    with_bot(fake, scenario)
    [conflict] = fake.conflicts
    assert conflict.client_connected
    assert fake.pending_updates == [1]  # delivered, not confirmed


def test_long_poll_with_no_updates_answers_an_empty_list(fake: FakeBotAPI) -> None:
    assert with_bot(fake, lambda bot: bot.get_updates(timeout=1)) == []


def test_stop_answers_in_flight_long_poll() -> None:
    fake = FakeBotAPI()
    fake.start()

    async def scenario(bot: Bot) -> None:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.to_thread(fake.wait_for, "getUpdates", timeout=2)
        await asyncio.to_thread(fake.stop)
        assert await asyncio.wait_for(poll, 10) == []  # answered, not left for 30 s

    with_bot(fake, scenario)
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

    async def send_new_after_the_waiter_started() -> Call:
        waiting = asyncio.create_task(
            asyncio.to_thread(
                fake.wait_for, "sendmessage", lambda c: c.params["chat_id"] == USER_ID, after=mark
            )
        )
        await asyncio.sleep(0)  # let the waiter block first
        bot = http_bot(fake)
        try:
            await bot.send_message(USER_ID, "new")
        finally:
            await close_http(bot)
        return await waiting

    call = asyncio.run(send_new_after_the_waiter_started())
    assert isinstance(call, Call)
    assert (call.index, call.params["text"]) == (mark, "new")


def test_wait_for_timeout_raises_readable_assertion(fake: FakeBotAPI) -> None:
    with_bot(fake, lambda bot: bot.send_message(USER_ID, "something else"))

    with pytest.raises(AssertionError, match="no sendInvoice call") as failure:
        fake.wait_for("sendInvoice", timeout=0.2)

    assert "sendMessage" in str(failure.value)
