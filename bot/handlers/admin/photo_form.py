"""🖼 Photo of a product or a category: the admin sends a new one, or /remove takes it off."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.handlers.admin.states import PhotoForm
from bot.handlers.ui import show
from bot.i18n import _
from bot.keyboards.admin import back_to_panel
from bot.shop import Shop

router = Router(name="admin-photo-form")

PHOTO_OF_PRODUCT = "product"
PHOTO_OF_CATEGORY = "category"


async def ask_for_photo(
    callback: CallbackQuery, state: FSMContext, target: str, target_id: int, name: str
) -> None:
    await state.set_state(PhotoForm.photo)
    await state.update_data(photo_of=target, photo_of_id=target_id)
    await show(
        callback,
        _("🖼 Send the new photo of <b>{name}</b>, or /remove to show none. /cancel stops.").format(
            name=escape(name)
        ),
    )


async def _save(message: Message, state: FSMContext, shop: Shop, photo: str | None) -> None:
    data = await state.get_data()
    await state.clear()
    target_id = int(data.get("photo_of_id", 0))
    if data.get("photo_of") == PHOTO_OF_CATEGORY:
        saved = await shop.categories.set_photo(target_id, photo)
    else:
        saved = await shop.products.set_photo(target_id, photo)
    if not saved:
        text = _("It no longer exists.")
    elif photo is None:
        text = _("🖼 Photo removed.")
    else:
        text = _("🖼 Photo saved.")
    await message.answer(text, reply_markup=back_to_panel())


@router.message(PhotoForm.photo, F.photo)
async def take_photo(message: Message, state: FSMContext, shop: Shop) -> None:
    assert message.photo is not None
    await _save(message, state, shop, message.photo[-1].file_id)


@router.message(PhotoForm.photo, Command("remove"))
async def remove_photo(message: Message, state: FSMContext, shop: Shop) -> None:
    await _save(message, state, shop, None)


@router.message(PhotoForm.photo)
async def photo_expected(message: Message) -> None:
    await message.answer(_("Send a photo (not a file), or /remove, or /cancel."))
