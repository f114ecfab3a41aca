"""🌐: the user picks the language the bot speaks to them; it is stored with them."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.handlers.start import home
from bot.handlers.ui import show, stale
from bot.i18n import _, speaking
from bot.i18n.languages import LANGUAGES
from bot.keyboards.callbacks import Menu, MenuAction, PickLanguage
from bot.keyboards.language import language_keyboard
from bot.middlewares.languages import LanguageCache
from bot.shop import Shop
from bot.shop.customers import register
from bot.telegram.received import customer_of

router = Router(name="language")


@router.callback_query(Menu.filter(F.action == MenuAction.LANGUAGE))
async def picker(callback: CallbackQuery, i18n: I18n) -> None:
    await show(callback, _("🌐 Choose your language:"), language_keyboard(i18n.current_locale))


@router.callback_query(PickLanguage.filter())
async def pick(
    callback: CallbackQuery,
    callback_data: PickLanguage,
    shop: Shop,
    settings: Settings,
    languages: LanguageCache,
) -> None:
    """Stored (registering someone the shop has not met), remembered by this instance at
    once, and the main menu shown again in the new language."""
    language = callback_data.code
    if language not in LANGUAGES:
        await stale(callback)
        return
    user = callback.from_user
    if not await shop.users.set_language(user.id, language):
        await register(shop, customer_of(user))
        await shop.users.set_language(user.id, language)
    languages.put(user.id, language)
    with speaking(language):
        await home(callback, settings)
