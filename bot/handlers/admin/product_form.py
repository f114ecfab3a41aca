"""Adding a product: name → description → category → price → photo → file → content →
confirm.

Each step checks what it gets and, if it is wrong, says why and stays; /cancel (handled in
start.py) leaves the form at any step.
"""

from __future__ import annotations

from html import escape
from uuid import uuid4

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.dao.models import KIND_STOCK, KIND_UNLIMITED
from bot.handlers.admin.products import category_line, price_line
from bot.handlers.admin.states import AddProduct
from bot.handlers.ui import load_or_stale, show
from bot.i18n import _, ngettext
from bot.keyboards.admin import (
    back_to_panel,
    confirm_product_keyboard,
    pick_category_keyboard,
    pick_kind_keyboard,
)
from bot.keyboards.callbacks import (
    Admin,
    AdminAction,
    FormAction,
    PickCategory,
    PickKind,
    ProductForm,
)
from bot.shop import Shop
from bot.shop.invoices import clip, shop_currency
from bot.shop.money import parse_price, price_hint
from bot.shop.validation import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    PRODUCT_NAME_MAX,
    Field,
    clean_text,
)

router = Router(name="admin-product-form")

_SUMMARY_CLIP = 300


@router.callback_query(Admin.filter(F.action == AdminAction.ADD_PRODUCT))
async def start_form(callback: CallbackQuery, state: FSMContext, shop: Shop) -> None:
    if not await shop.categories.all():
        await callback.answer(_("Create a category first."), show_alert=True)
        return
    await state.clear()
    await state.set_state(AddProduct.name)
    await state.update_data(form_token=uuid4().hex)  # saving twice makes one product
    text = ngettext(
        "➕ <b>New product</b>\n\nSend its name (1–{count} character).\n/cancel stops at any step.",
        "➕ <b>New product</b>\n\nSend its name (1–{count} characters).\n"
        "/cancel stops at any step.",
        PRODUCT_NAME_MAX,
    )
    await show(callback, text.format(count=PRODUCT_NAME_MAX))


async def _took_text(
    message: Message, state: FSMContext, *, key: str, what: Field, max_length: int
) -> bool:
    try:
        value = clean_text(message.text, what=what, max_length=max_length)
    except ValueError as error:
        await message.answer(str(error))
        return False
    await state.update_data({key: value})
    return True


@router.message(AddProduct.name)
async def take_name(message: Message, state: FSMContext) -> None:
    if await _took_text(message, state, key="name", what="the name", max_length=PRODUCT_NAME_MAX):
        await state.set_state(AddProduct.description)
        text = ngettext(
            "Now its description (1–{count} character).",
            "Now its description (1–{count} characters).",
            DESCRIPTION_MAX,
        )
        await message.answer(text.format(count=DESCRIPTION_MAX))


@router.message(AddProduct.description)
async def take_description(message: Message, state: FSMContext, shop: Shop) -> None:
    if await _took_text(
        message, state, key="description", what="the description", max_length=DESCRIPTION_MAX
    ):
        await state.set_state(AddProduct.category)
        categories = await shop.categories.all()
        await message.answer(
            _("Choose its category:"), reply_markup=pick_category_keyboard(categories)
        )


@router.callback_query(AddProduct.category, PickCategory.filter())
async def take_category(
    callback: CallbackQuery,
    callback_data: PickCategory,
    state: FSMContext,
    shop: Shop,
    settings: Settings,
) -> None:
    category = await load_or_stale(callback, shop.categories.get(callback_data.category_id))
    if category is None:
        return
    await state.update_data(category_id=category.id)
    await state.set_state(AddProduct.price)
    hint = price_hint(shop_currency(settings))
    text = _("Category: <b>{name}</b>\n\nNow the price: {hint}.")
    await show(callback, text.format(name=escape(category.name), hint=hint))


@router.message(AddProduct.category)
async def category_by_button(message: Message) -> None:
    await message.answer(_("Choose the category with the buttons above."))


@router.message(AddProduct.price)
async def take_price(message: Message, state: FSMContext, settings: Settings) -> None:
    currency = shop_currency(settings)
    try:
        price = parse_price(message.text, currency)
    except ValueError as error:
        await message.answer(str(error))
        return
    await state.update_data(price=price, currency=currency)
    await state.set_state(AddProduct.photo)
    await message.answer(_("Send a photo for the product's card, or /skip if it has none."))


async def _ask_file(message: Message, state: FSMContext, photo: str | None) -> None:
    await state.update_data(photo=photo)
    await state.set_state(AddProduct.file)
    await message.answer(_("Send the product's file as a document, or /skip if it has none."))


@router.message(AddProduct.photo, F.photo)
async def take_photo(message: Message, state: FSMContext) -> None:
    assert message.photo is not None
    await _ask_file(message, state, message.photo[-1].file_id)


@router.message(AddProduct.photo, Command("skip"))
async def skip_photo(message: Message, state: FSMContext) -> None:
    await _ask_file(message, state, None)


@router.message(AddProduct.photo)
async def photo_expected(message: Message) -> None:
    await message.answer(_("Send a photo (not a file), or /skip."))


async def _ask_content(message: Message, state: FSMContext, file_id: str | None) -> None:
    await state.update_data(file_id=file_id)
    await state.set_state(AddProduct.content)
    text = ngettext(
        "Last, the hidden content every buyer gets after paying: a link, a text (1–{count} "
        "character). Or, to sell unique units (keys, codes) one per buyer, tap 📦 Stock product "
        "and add its units after saving.",
        "Last, the hidden content every buyer gets after paying: a link, a text (1–{count} "
        "characters). Or, to sell unique units (keys, codes) one per buyer, tap 📦 Stock product "
        "and add its units after saving.",
        CONTENT_MAX,
    )
    await message.answer(text.format(count=CONTENT_MAX), reply_markup=pick_kind_keyboard())


@router.message(AddProduct.file, F.document.file_id.as_("file_id"))
async def take_file(message: Message, state: FSMContext, file_id: str) -> None:
    await _ask_content(message, state, file_id)


@router.message(AddProduct.file, Command("skip"))
async def skip_file(message: Message, state: FSMContext) -> None:
    await _ask_content(message, state, None)


@router.message(AddProduct.file)
async def file_expected(message: Message) -> None:
    await message.answer(_("Send the file as a document, or /skip."))


@router.message(AddProduct.content)
async def take_content(message: Message, state: FSMContext, shop: Shop) -> None:
    if not await _took_text(
        message, state, key="content", what="the content", max_length=CONTENT_MAX
    ):
        return
    await state.update_data(kind=KIND_UNLIMITED)
    await _ask_to_confirm(message, state, shop)


@router.callback_query(AddProduct.content, PickKind.filter(F.stock))
async def take_stock_kind(callback: CallbackQuery, state: FSMContext, shop: Shop) -> None:
    await state.update_data(kind=KIND_STOCK, content="")
    if isinstance(callback.message, Message):
        await _ask_to_confirm(callback.message, state, shop)
    await callback.answer()


async def _ask_to_confirm(message: Message, state: FSMContext, shop: Shop) -> None:
    data = await state.get_data()
    category = await shop.categories.get(data["category_id"])
    await state.set_state(AddProduct.confirm)
    if data["kind"] == KIND_STOCK:
        content = _("Kind: 📦 stock, one unit per buyer (add units after saving)")
    else:
        content = _("Content: {content}").format(
            content=escape(clip(data["content"], _SUMMARY_CLIP))
        )
    summary = [
        _("Save this product?"),
        "",
        f"<b>{escape(data['name'])}</b>",
        escape(clip(data["description"], _SUMMARY_CLIP)),
        category_line(category.name if category else None),
        price_line(data["price"], data["currency"]),
        _("Photo: attached") if data.get("photo") else _("Photo: none"),
        _("File: attached") if data["file_id"] else _("File: none"),
        content,
    ]
    await message.answer("\n".join(summary), reply_markup=confirm_product_keyboard())


@router.callback_query(AddProduct.confirm, ProductForm.filter(F.action == FormAction.SAVE))
async def save(callback: CallbackQuery, state: FSMContext, shop: Shop) -> None:
    data = await state.get_data()
    if "category_id" not in data:  # Save tapped twice: the first tap saved it and closed the form
        await callback.answer(_("This product is saved already."))
        return
    categories = shop.categories
    if await categories.get(data["category_id"]) is None:
        await state.set_state(AddProduct.category)
        keyboard = pick_category_keyboard(await categories.all())
        text = _("That category was deleted meanwhile. Choose another:")
        await show(callback, text, keyboard)
        return
    product = await shop.products.create(
        form_token=data.get("form_token"),
        category_id=data["category_id"],
        name=data["name"],
        description=data["description"],
        price=data["price"],
        currency=data["currency"],
        file_id=data["file_id"],
        photo=data.get("photo"),
        hidden_content=data["content"],
        kind=data.get("kind", KIND_UNLIMITED),
    )
    if product.kind == KIND_STOCK:
        text = _(
            "✅ “{name}” saved (#{id}) and on sale. Add its units from 📦 Products: until then it "
            "shows as sold out."
        )
    else:
        text = _("✅ “{name}” saved (#{id}) and on sale.")
    await show(callback, text.format(name=escape(product.name), id=product.id), back_to_panel())
    # Only now, as the product is committed (before the call above): a failed commit keeps
    # the form, and Save again makes the product once (its form token).
    await state.clear()


@router.callback_query(AddProduct.confirm, ProductForm.filter(F.action == FormAction.CANCEL))
async def discard(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(callback, _("Cancelled: nothing was saved."), back_to_panel())


@router.message(AddProduct.confirm)
async def confirm_by_button(message: Message) -> None:
    await message.answer(_("Press ✅ Save or ✖️ Cancel above."))
