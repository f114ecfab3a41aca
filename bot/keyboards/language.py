"""The 🌐 language picker."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n.languages import LANGUAGES
from bot.keyboards.callbacks import PickLanguage
from bot.keyboards.common import button, home_button


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """Each language in its own words, the current one ticked."""
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGES.items():
        label = f"✅ {name}" if code == current else name
        builder.row(button(label, PickLanguage(code=code)))
    builder.row(home_button())
    return builder.as_markup()
