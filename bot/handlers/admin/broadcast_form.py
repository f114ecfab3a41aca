"""📣 Broadcast: composing one. The message (text with formatting, or a photo or document with
a caption), then an optional button, then the audience; the admin then sees the message as
recipients will, and how many will get it, and confirms (bot.handlers.admin.broadcasts).
Each step checks what it gets and, if it is wrong, says why and stays; /cancel stops."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.dao.broadcasts import AUDIENCE_LANGUAGE, AUDIENCE_PRODUCT, Audience
from bot.handlers.admin.broadcasts import broadcast_message
from bot.handlers.admin.states import BroadcastForm
from bot.handlers.ui import show, stale
from bot.i18n import _, ngettext
from bot.i18n.languages import LANGUAGES
from bot.keyboards.broadcasts import audiences_keyboard, confirm_keyboard
from bot.keyboards.callbacks import Admin, AdminAction, BroadcastTo
from bot.shop import Shop
from bot.shop.broadcasts import checked_message, parse_audience, parse_button
from bot.shop.stock import now

router = Router(name="admin-broadcast-form")


def _again(reason: str) -> str:
    return _("{reason} Send it again, or /cancel.").format(reason=escape(reason))


@router.callback_query(Admin.filter(F.action == AdminAction.BROADCAST))
async def begin(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(BroadcastForm.message)
    await show(
        callback,
        _(
            "📣 <b>New broadcast</b>\n\nSend the message: a text, or a photo or a document "
            "with a caption. Format it in Telegram, or type HTML tags (&lt;b&gt;, &lt;i&gt;, "
            '&lt;a href="…"&gt;). /cancel stops at any step.'
        ),
    )


@router.message(BroadcastForm.message)
async def take_message(message: Message, state: FSMContext) -> None:
    photo = message.photo[-1].file_id if message.photo else None
    document = message.document.file_id if message.document else None
    caption = photo is not None or document is not None
    typed = message.caption if caption else message.text
    if typed is None and not caption:
        await message.answer(_again(_("A broadcast is a text, a photo or a document.")))
        return
    formatted = message.caption_entities if caption else message.entities
    html = (message.html_text if formatted else typed) or ""
    try:
        checked_message(html, caption=caption)
    except ValueError as error:
        await message.answer(_again(str(error)))
        return
    await state.update_data(text=html, photo=photo, document=document)
    await state.set_state(BroadcastForm.button)
    await message.answer(
        _(
            "Add a button? Send “Label https://…” for a link, #12 for product 12 of the "
            "shop, or /skip."
        )
    )


@router.message(BroadcastForm.button, Command("skip"))
async def skip_button(message: Message, state: FSMContext, shop: Shop) -> None:
    await _ask_audience(message, state, shop)


@router.message(BroadcastForm.button)
async def take_button(message: Message, state: FSMContext, shop: Shop) -> None:
    try:
        choice = parse_button(message.text or "")
    except ValueError as error:
        await message.answer(escape(str(error)))
        return
    if choice.product_id is not None and await shop.products.get(choice.product_id) is None:
        await message.answer(_again(_("There is no product #{id}.").format(id=choice.product_id)))
        return
    await state.update_data(
        button_text=choice.text, button_url=choice.url, button_product_id=choice.product_id
    )
    await _ask_audience(message, state, shop)


async def _ask_audience(message: Message, state: FSMContext, shop: Shop) -> None:
    await state.set_state(BroadcastForm.audience)
    categories = [category for category, _count in await shop.categories.all()]
    await message.answer(
        _("Who gets it? Pick below, or send #12 for the buyers of product 12."),
        reply_markup=audiences_keyboard(categories),
    )


@router.callback_query(BroadcastForm.audience, BroadcastTo.filter())
async def pick_audience(
    callback: CallbackQuery,
    callback_data: BroadcastTo,
    state: FSMContext,
    shop: Shop,
    settings: Settings,
    bot: Bot,
) -> None:
    try:
        audience = parse_audience(callback_data.kind, callback_data.value)
    except ValueError:
        await stale(callback)
        return
    if audience.kind == AUDIENCE_LANGUAGE and audience.value not in LANGUAGES:
        await stale(callback)
        return
    if isinstance(callback.message, Message):
        await _preview(
            callback.message, callback.from_user.id, audience, state, shop, settings, bot
        )
    await callback.answer()


@router.message(BroadcastForm.audience, F.text.regexp(r"^#\d{1,9}$"))
async def product_buyers(
    message: Message, state: FSMContext, shop: Shop, settings: Settings, bot: Bot
) -> None:
    product_id = int((message.text or "#0")[1:])
    if await shop.products.get(product_id) is None:
        await message.answer(_again(_("There is no product #{id}.").format(id=product_id)))
        return
    assert message.from_user is not None  # admins' routers see users' messages only
    audience = Audience(AUDIENCE_PRODUCT, str(product_id))
    await _preview(message, message.from_user.id, audience, state, shop, settings, bot)


@router.message(BroadcastForm.audience)
async def not_an_audience(message: Message) -> None:
    await message.answer(_("Pick the audience with a button above, or send #12, or /cancel."))


async def _preview(
    message: Message,
    admin_id: int,
    audience: Audience,
    state: FSMContext,
    shop: Shop,
    settings: Settings,
    bot: Bot,
) -> None:
    """Save the draft, send the admin the message as recipients will get it, and ask."""
    data = await state.get_data()
    broadcast = await shop.broadcasts.create(
        admin_id,
        audience,
        text=data["text"],
        photo=data.get("photo"),
        document=data.get("document"),
        button_text=data.get("button_text"),
        button_url=data.get("button_url"),
        button_product_id=data.get("button_product_id"),
    )
    count = await shop.broadcasts.count(audience, now(), settings.default_language)
    part = await broadcast_message(shop, broadcast, bot)
    await state.clear()
    try:
        await part.send(bot, message.chat.id)
    except TelegramBadRequest as error:
        await message.answer(
            _("Telegram refused the message ({reason}). Start again from 📣 Broadcast.").format(
                reason=escape(error.message)
            )
        )
        return
    asked = ngettext(
        "☝️ Broadcast #{id} goes to {count} user (those who blocked the bot are left out). Send it?",
        "☝️ Broadcast #{id} goes to {count} users (those who blocked the bot are left out). "
        "Send it?",
        count,
    )
    await message.answer(
        asked.format(id=broadcast.id, count=count), reply_markup=confirm_keyboard(broadcast.id)
    )
