"""Adding units to a stock product: lines of text, or a .txt/.csv document of them."""

from __future__ import annotations

from html import escape
from io import BytesIO

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import Document, Message

from bot.handlers.admin.states import AddUnits
from bot.i18n import _, ngettext
from bot.keyboards.admin import product_keyboard
from bot.shop import Shop
from bot.shop.stock import (
    DOCUMENT_MAX_BYTES,
    DOCUMENT_SUFFIXES,
    decode_document,
    is_stock,
    load_units,
    now,
)

router = Router(name="admin-units")


async def _load(message: Message, state: FSMContext, shop: Shop, text: str) -> None:
    data = await state.get_data()
    product = await shop.products.get(data.get("product_id", 0))
    await state.clear()
    if product is None or not is_stock(product):
        await message.answer(_("That product was deleted meanwhile: nothing was added."))
        return
    load = await load_units(shop, product.id, text)
    await message.answer(
        f"✅ <b>{escape(product.name)}</b>: {load.describe()}. "
        f"{await units_line(shop, product.id)}.",
        reply_markup=product_keyboard(product),
    )


async def units_line(shop: Shop, product_id: int) -> str:
    """A stock product's counts, e.g. "Units: 3 available, 0 reserved, 5 sold, 2 waiting
    for a restock" (customers still waiting: it is sold out, or hidden)."""
    counts = await shop.stock.counts(product_id, now())
    waiting = await shop.restock.waiting(product_id)
    if not waiting:
        line = _("Units: {available} available, {reserved} reserved, {sold} sold")
    else:
        line = ngettext(
            "Units: {available} available, {reserved} reserved, {sold} sold, {count} waiting for a "
            "restock",
            "Units: {available} available, {reserved} reserved, {sold} sold, {count} waiting for a "
            "restock",
            waiting,
        )
    return line.format(
        available=counts.available, reserved=counts.reserved, sold=counts.sold, count=waiting
    )


@router.message(AddUnits.lines, F.text.as_("text"))
async def take_lines(message: Message, state: FSMContext, shop: Shop, text: str) -> None:
    await _load(message, state, shop, text)


def _document_refusal(document: Document) -> str | None:
    name = (document.file_name or "").lower()
    if not name.endswith(DOCUMENT_SUFFIXES):
        return _("Send a .txt or .csv file, one unit per line, or the units as a message.")
    if document.file_size is not None and document.file_size > DOCUMENT_MAX_BYTES:
        return _("This file is over 20 MB: split it, or load it with `python -m bot.stock load`.")
    return None


@router.message(AddUnits.lines, F.document.as_("document"))
async def take_document(
    message: Message, state: FSMContext, shop: Shop, bot: Bot, document: Document
) -> None:
    refusal = _document_refusal(document)
    if refusal is not None:
        await message.answer(refusal)
        return
    data = BytesIO()
    await bot.download(document, destination=data)
    try:
        text = decode_document(data.getvalue())
    except ValueError as error:
        await message.answer(str(error))
        return
    await _load(message, state, shop, text)


@router.message(AddUnits.lines)
async def units_expected(message: Message) -> None:
    await message.answer(_("Send the units as text or a .txt/.csv document, or /cancel."))
