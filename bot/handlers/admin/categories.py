"""Categories: list, add, rename, delete (only an empty one)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.handlers.admin.photo_form import PHOTO_OF_CATEGORY, ask_for_photo
from bot.handlers.admin.states import CategoryForm
from bot.handlers.ui import load_or_stale, show
from bot.i18n import _, ngettext
from bot.keyboards.admin import categories_keyboard, category_keyboard
from bot.keyboards.callbacks import Admin, AdminAction, AdminCategory, CategoryAction
from bot.shop import Shop
from bot.shop.catalog import delete_if_empty
from bot.shop.validation import CATEGORY_NAME_MAX, clean_text

router = Router(name="admin-categories")


def _list_text() -> str:
    return _("🗂 <b>Categories</b> (number of products in brackets):")


def _name_prompt() -> str:
    return ngettext(
        "Send the category's name (1–{count} character), or /cancel.",
        "Send the category's name (1–{count} characters), or /cancel.",
        CATEGORY_NAME_MAX,
    ).format(count=CATEGORY_NAME_MAX)


@router.callback_query(Admin.filter(F.action == AdminAction.CATEGORIES))
async def categories(callback: CallbackQuery, shop: Shop) -> None:
    await show(callback, _list_text(), categories_keyboard(await shop.categories.all()))


@router.callback_query(Admin.filter(F.action == AdminAction.ADD_CATEGORY))
async def add_category(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(CategoryForm.create)
    await show(callback, _("➕ <b>New category</b>\n\n{prompt}").format(prompt=_name_prompt()))


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
        text = _("🗂 <b>{name}</b>\n\nProducts: {count}").format(name=name, count=products)
        text += "\n" + (_("Photo: yes") if category.photo else _("Photo: none"))
        await show(callback, text, category_keyboard(category))
    elif callback_data.action is CategoryAction.RENAME:
        await state.set_state(CategoryForm.rename)
        await state.update_data(category_id=category.id)
        text = _("✏️ Renaming <b>{name}</b>.\n\n{prompt}").format(name=name, prompt=_name_prompt())
        await show(callback, text)
    elif callback_data.action is CategoryAction.PHOTO:
        await ask_for_photo(callback, state, PHOTO_OF_CATEGORY, category.id, category.name)
    elif products := await delete_if_empty(shop, category):
        refusal = ngettext(
            "“{name}” has {count} product: only an empty category can be deleted.",
            "“{name}” has {count} products: only an empty category can be deleted.",
            products,
        )
        await callback.answer(refusal.format(name=category.name, count=products), show_alert=True)
    else:
        text = _("🗑 Category “{name}” deleted.").format(name=name) + f"\n\n{_list_text()}"
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
        done = _("✅ Category “{name}” created.").format(name=escape(name))
    else:
        category = await shop.categories.get((await state.get_data()).get("category_id", 0))
        if category is None:
            await state.clear()
            await message.answer(_("That category no longer exists."))
            return
        saved = await shop.categories.rename(category, name)
        done = _("✅ Category renamed to “{name}”.").format(name=escape(name))
    if not saved:
        await message.answer(
            _("A category named “{name}” already exists. Send another name, or /cancel.").format(
                name=escape(name)
            )
        )
        return
    await state.clear()
    await message.answer(
        f"{done}\n\n{_list_text()}", reply_markup=categories_keyboard(await shop.categories.all())
    )
