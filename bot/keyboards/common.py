"""Pieces every keyboard uses: a back button and the previous/next row of a paged list."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.paging import Page
from bot.i18n import _
from bot.keyboards.callbacks import Menu, MenuAction


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def home_button() -> InlineKeyboardButton:
    return button(_("🏠 Main menu"), Menu(action=MenuAction.HOME))


def add_pager(
    builder: InlineKeyboardBuilder, page: Page[object], page_data: Callable[[int], CallbackData]
) -> None:
    """A row with ◀️/▶️ when the list has more than one page."""
    row = []
    if page.has_previous:
        row.append(button(_("◀️ Previous"), page_data(page.number - 1)))
    if page.has_next:
        row.append(button(_("Next ▶️"), page_data(page.number + 1)))
    if row:
        builder.row(*row)


def page_caption(page: Page[object]) -> str:
    """The line under a paged list ("Page 2 of 5"), after a blank line; none for one page."""
    if page.pages <= 1:
        return ""
    return "\n\n" + _("Page {number} of {pages}").format(number=page.number + 1, pages=page.pages)
