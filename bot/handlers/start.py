"""/start, /cancel and the main menu's own screens (home, about)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.handlers.catalog import card_screen
from bot.handlers.inline import product_in
from bot.handlers.photos import show_photo, usable
from bot.handlers.ui import show
from bot.i18n import _
from bot.keyboards.callbacks import Menu, MenuAction
from bot.keyboards.menu import back_home, main_menu
from bot.shop import Shop
from bot.shop.customers import register
from bot.shop.invoices import shop_currency
from bot.shop.money import STARS
from bot.shop.referrals import inviter_in, tie
from bot.telegram.received import customer_of

router = Router(name="start")


@router.message(CommandStart())
async def start(
    message: Message, command: CommandObject, shop: Shop, settings: Settings, state: FSMContext
) -> None:
    """/start, or /start r<id> from someone's invitation link (see bot.shop.referrals), or
    /start p<id> from a product's link (inline mode's button): its card."""
    sender = message.from_user
    if sender is None:
        return
    await state.clear()
    inviter = inviter_in(command.args)
    first_contact = inviter is not None and await shop.users.by_telegram_id(sender.id) is None
    user = await register(shop, customer_of(sender))
    if inviter is not None and first_contact:
        await tie(shop, user, inviter)
    linked = product_in(command.args)
    product = None if linked is None else await shop.products.card(linked)
    if product is not None:
        text, markup = await card_screen(shop, product, sender.id, 0, reviews=product.reviews)
        photo = usable(product.photo)
        if photo is None or not await show_photo(
            message, photo, text, markup, heading=product.name
        ):
            await message.answer(text, reply_markup=markup)
        return
    await message.answer(
        _("Hello, {name}! Welcome to the shop. Choose what to do:").format(
            name=escape(sender.first_name)
        ),
        reply_markup=main_menu(is_admin=sender.id in settings.admin_ids),
    )


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, settings: Settings) -> None:
    if await state.get_state() is None:
        await message.answer(_("Nothing to cancel."))
        return
    await state.clear()
    is_admin = message.from_user is not None and message.from_user.id in settings.admin_ids
    await message.answer(_("Cancelled."), reply_markup=main_menu(is_admin=is_admin))


@router.callback_query(Menu.filter(F.action == MenuAction.HOME))
async def home(callback: CallbackQuery, settings: Settings) -> None:
    await show(
        callback,
        _("Welcome to the shop. Choose what to do:"),
        main_menu(is_admin=callback.from_user.id in settings.admin_ids),
    )


@router.callback_query(Menu.filter(F.action == MenuAction.ABOUT))
async def about(callback: CallbackQuery, settings: Settings) -> None:
    shop_text = _(
        "ℹ️ <b>About</b>\n\n"
        "A shop of digital goods. Pick a product in the catalog, pay in Telegram and get it "
        "here at once: the content and the file. Everything you bought stays in "
        "“My purchases”, where you can get it again at any time."
    )
    await show(callback, f"{shop_text}\n\n{_payments_line(shop_currency(settings))}", back_home())


def _payments_line(currency: str) -> str:
    if currency == STARS:
        return _("Payments: Telegram Stars ⭐.")
    return _("Payments: card, in {currency}.").format(currency=currency)
