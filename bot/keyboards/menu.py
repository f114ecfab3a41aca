"""The main menu shown after /start."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _
from bot.keyboards.callbacks import Menu, MenuAction
from bot.keyboards.common import home_button


def main_menu(*, is_admin: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🛍 Catalog"), callback_data=Menu(action=MenuAction.CATALOG))
    builder.button(text=_("🔎 Search"), callback_data=Menu(action=MenuAction.SEARCH))
    builder.button(text=_("🧾 My purchases"), callback_data=Menu(action=MenuAction.PURCHASES))
    builder.button(text=_("👥 Invite friends"), callback_data=Menu(action=MenuAction.INVITE))
    builder.button(text=_("ℹ️ About"), callback_data=Menu(action=MenuAction.ABOUT))
    builder.button(text=_("🌐 Language"), callback_data=Menu(action=MenuAction.LANGUAGE))
    if is_admin:
        builder.button(text=_("🛠 Admin panel"), callback_data=Menu(action=MenuAction.ADMIN))
    builder.adjust(1)
    return builder.as_markup()


def back_home() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[home_button()]])
