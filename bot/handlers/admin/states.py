"""FSM states of the admin forms."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class AddProduct(StatesGroup):
    name = State()
    description = State()
    category = State()
    price = State()
    photo = State()
    file = State()
    content = State()
    confirm = State()


class CategoryForm(StatesGroup):
    create = State()
    rename = State()


class AddUnits(StatesGroup):
    """Waiting for a stock product's units: lines of text or a .txt/.csv document."""

    lines = State()


class BroadcastForm(StatesGroup):
    message = State()  # its text, or a photo or document with a caption
    button = State()
    audience = State()


class PhotoForm(StatesGroup):
    """Waiting for a product's or a category's new photo (or /remove)."""

    photo = State()
