"""Categories: list, add, rename, delete (only an empty one)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.handlers.ui import load_or_stale, show
from bot.keyboards.admin import categories_keyboard, category_keyboard
from bot.keyboards.callbacks import Admin, AdminAction, AdminCategory, CategoryAction
from bot.shop import Shop
from bot.shop.catalog import delete_if_empty
from bot.shop.validation import CATEGORY_NAME_MAX, clean_text
from bot.states import CategoryForm

router = Router(name="admin-categories")

LIST_TEXT = "🗂 <b>Categories</b> (number of products in brackets):"
NAME_PROMPT = f"Send the category's name (1–{CATEGORY_NAME_MAX} characters), or /cancel."


@router.callback_query(Admin.filter(F.action == AdminAction.CATEGORIES))
async def categories(callback: CallbackQuery, shop: Shop) -> None:
    await show(callback, LIST_TEXT, categories_keyboard(await shop.categories.all()))


@router.callback_query(Admin.filter(F.action == AdminAction.ADD_CATEGORY))
async def add_category(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(CategoryForm.create)
    await show(callback, f"➕ <b>New category</b>\n\n{NAME_PROMPT}")


@router.callback_query(AdminCategory.filter())
async def category_action(
    callback: CallbackQuery, callback_data: AdminCategory, shop: Shop, state: FSMContext
) -> None:
    category = await load_or_stale(callback, shop.categories.get(callback_data.category_id))
    if category is None:
        return
    name = escape(category.name)
    if callback_data.action is CategoryAction.VIEW:
        products = await shop.categories.product_count(category.id)
        await show(
            callback, f"🗂 <b>{name}</b>\n\nProducts: {products}", category_keyboard(category)
        )
    elif callback_data.action is CategoryAction.RENAME:
        await state.set_state(CategoryForm.rename)
        await state.update_data(category_id=category.id)
        await show(callback, f"✏️ Renaming <b>{name}</b>.\n\n{NAME_PROMPT}")
    elif products := await delete_if_empty(shop, category):
        await callback.answer(
            f"“{category.name}” has {products} product(s): only an empty category can be deleted.",
            show_alert=True,
        )
    else:
        text = f"🗑 Category “{name}” deleted.\n\n{LIST_TEXT}"
        await show(callback, text, categories_keyboard(await shop.categories.all()))


@router.message(StateFilter(CategoryForm.create, CategoryForm.rename))
async def category_name(message: Message, state: FSMContext, shop: Shop) -> None:
    try:
        name = clean_text(message.text, what="the name", max_length=CATEGORY_NAME_MAX)
    except ValueError as error:
        await message.answer(str(error))
        return
    if await state.get_state() == CategoryForm.create.state:
        saved = await shop.categories.create(name) is not None
        done = f"✅ Category “{escape(name)}” created."
    else:
        category = await shop.categories.get((await state.get_data()).get("category_id", 0))
        if category is None:
            await state.clear()
            await message.answer("That category no longer exists.")
            return
        saved = await shop.categories.rename(category, name)
        done = f"✅ Category renamed to “{escape(name)}”."
    if not saved:
        await message.answer(
            f"A category named “{escape(name)}” already exists. Send another name, or /cancel."
        )
        return
    await state.clear()
    await message.answer(
        f"{done}\n\n{LIST_TEXT}", reply_markup=categories_keyboard(await shop.categories.all())
    )
