"""Callback data factories: every button's data is built and parsed here, never by hand."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(StrEnum):
    CATALOG = "catalog"
    PURCHASES = "purchases"
    ABOUT = "about"
    ADMIN = "admin"
    HOME = "home"


class Menu(CallbackData, prefix="menu"):
    action: MenuAction
