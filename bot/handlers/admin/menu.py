"""The admin panel's first screen."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery

from bot.handlers.ui import show
from bot.i18n import _
from bot.keyboards.admin import admin_panel
from bot.keyboards.callbacks import Admin, AdminAction, Menu, MenuAction

router = Router(name="admin-menu")


@router.callback_query(Menu.filter(F.action == MenuAction.ADMIN))
@router.callback_query(Admin.filter(F.action == AdminAction.PANEL))
async def panel(callback: CallbackQuery) -> None:
    await show(callback, _("🛠 <b>Admin panel</b>\n\nWhat would you like to do?"), admin_panel())
