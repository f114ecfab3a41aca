"""/start, /cancel and the main menu's own screens (home, about)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.handlers.customers import customer_of
from bot.handlers.ui import show
from bot.keyboards.callbacks import Menu, MenuAction
from bot.keyboards.menu import back_home, main_menu
from bot.shop import Shop
from bot.shop.customers import register
from bot.shop.invoices import shop_currency
from bot.shop.money import STARS

router = Router(name="start")

HOME_TEXT = "Welcome to the shop. Choose what to do:"


@router.message(CommandStart())
async def start(message: Message, shop: Shop, settings: Settings, state: FSMContext) -> None:
    sender = message.from_user
    if sender is None:
        return
    await state.clear()
    await register(shop, customer_of(sender))
    await message.answer(
        f"Hello, {escape(sender.first_name)}! {HOME_TEXT}",
        reply_markup=main_menu(is_admin=sender.id in settings.admin_ids),
    )


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, settings: Settings) -> None:
    if await state.get_state() is None:
        await message.answer("Nothing to cancel.")
        return
    await state.clear()
    is_admin = message.from_user is not None and message.from_user.id in settings.admin_ids
    await message.answer("Cancelled.", reply_markup=main_menu(is_admin=is_admin))


@router.callback_query(Menu.filter(F.action == MenuAction.HOME))
async def home(callback: CallbackQuery, settings: Settings) -> None:
    await show(callback, HOME_TEXT, main_menu(is_admin=callback.from_user.id in settings.admin_ids))


@router.callback_query(Menu.filter(F.action == MenuAction.ABOUT))
async def about(callback: CallbackQuery, settings: Settings) -> None:
    currency = shop_currency(settings)
    paid_with = "Telegram Stars ⭐" if currency == STARS else f"card, in {currency}"
    await show(
        callback,
        "ℹ️ <b>About</b>\n\n"
        "A shop of digital goods. Pick a product in the catalog, pay in Telegram and get it "
        "here at once: the content and the file. Everything you bought stays in "
        f"“My purchases”, where you can get it again at any time.\n\nPayments: {paid_with}.",
        back_home(),
    )
