"""/start: register (or refresh) the user and show the main menu."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dao.users import UserDAO
from bot.keyboards.menu import main_menu

router = Router(name="start")


@router.message(CommandStart())
async def start(
    message: Message, session: AsyncSession, settings: Settings, state: FSMContext
) -> None:
    sender = message.from_user
    if sender is None:
        return
    await state.clear()
    await UserDAO(session).register(
        sender.id,
        username=sender.username,
        first_name=sender.first_name,
        last_name=sender.last_name,
    )
    await message.answer(
        f"Hello, {escape(sender.first_name)}! Welcome to the shop. Choose what to do:",
        reply_markup=main_menu(is_admin=sender.id in settings.admin_ids),
    )
