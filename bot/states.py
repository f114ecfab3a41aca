"""FSM states of the admin forms."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class AddProduct(StatesGroup):
    name = State()
    description = State()
    category = State()
    price = State()
    file = State()
    content = State()
    confirm = State()


class CategoryForm(StatesGroup):
    create = State()
    rename = State()
