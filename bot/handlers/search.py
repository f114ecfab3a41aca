"""🔎 Search and /search: products on sale whose name or description holds every word typed,
in any case, in Russian as in English (bot.dao.search), a page at a time."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.dao.search import words_of
from bot.handlers.ui import show, stale
from bot.i18n import _, ngettext
from bot.keyboards.callbacks import Menu, MenuAction, SearchPage
from bot.keyboards.catalog import found_keyboard
from bot.keyboards.common import page_caption
from bot.keyboards.menu import back_home
from bot.shop import Shop
from bot.shop.stock import in_stock

router = Router(name="search")

QUERY_MAX = 100  # characters of a query kept
_QUERY = "search_query"  # the FSM data key the pages read the words from


class SearchForm(StatesGroup):
    words = State()


def _ask() -> str:
    return _("🔎 What are you looking for? Send a word or a few, e.g. <i>vpn key</i>.")


@router.callback_query(Menu.filter(F.action == MenuAction.SEARCH))
async def ask(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(SearchForm.words)
    await show(callback, _ask(), back_home())


@router.message(Command("search"))
async def search_command(
    message: Message, command: CommandObject, state: FSMContext, shop: Shop, settings: Settings
) -> None:
    if not words_of(command.args or ""):
        await state.set_state(SearchForm.words)
        await message.answer(_ask(), reply_markup=back_home())
        return
    await _found(message, command.args or "", state, shop, settings)


@router.message(SearchForm.words, F.text)
async def search_words(message: Message, state: FSMContext, shop: Shop, settings: Settings) -> None:
    if not words_of(message.text or ""):
        await message.answer(_ask(), reply_markup=back_home())
        return
    await _found(message, message.text or "", state, shop, settings)


async def _found(
    message: Message, query: str, state: FSMContext, shop: Shop, settings: Settings
) -> None:
    query = " ".join(query.split())[:QUERY_MAX]
    await state.set_state(None)
    await state.update_data({_QUERY: query})
    text, markup = await _results(shop, settings, query, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(SearchPage.filter())
async def results_page(
    callback: CallbackQuery,
    callback_data: SearchPage,
    state: FSMContext,
    shop: Shop,
    settings: Settings,
) -> None:
    query = (await state.get_data()).get(_QUERY)
    if not isinstance(query, str):  # a search from before a /start or a restart
        await stale(callback)
        return
    await show(callback, *await _results(shop, settings, query, callback_data.page))


async def _results(
    shop: Shop, settings: Settings, query: str, number: int
) -> tuple[str, InlineKeyboardMarkup]:
    page = await shop.search.page(query, number, settings.catalog_page_size)
    shown = f"<b>{escape(query)}</b>"
    if not page.total:
        text = _("🔎 Nothing found for {query}. Try other words.").format(query=shown)
    else:
        text = ngettext(
            "🔎 {query}: {count} product found", "🔎 {query}: {count} products found", page.total
        ).format(query=shown, count=page.total)
    return text + page_caption(page), found_keyboard(page, await in_stock(shop, page.items))
