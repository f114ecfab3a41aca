"""The shop lives in private chats. In a group the bot only invites whoever talks to it into a
private chat; a button pressed on a group message never opens a screen there.

This router comes first and takes every group message and button (payments excepted), so no
other router ever sees one.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link

from bot.filters.chats import AddressedToBot, OutsidePrivateChat
from bot.i18n import _

router = Router(name="groups")
router.message.filter(OutsidePrivateChat())
router.callback_query.filter(OutsidePrivateChat())

START_PAYLOAD = "shop"


@router.message(AddressedToBot())
async def invite(message: Message, bot: Bot) -> None:
    link = await create_start_link(bot, START_PAYLOAD)
    button = InlineKeyboardButton(text=_("Open the shop"), url=link)
    await message.answer(
        _("🛍 The shop works in a private chat with me: tap the button below to open it."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


@router.message()
async def not_for_the_bot(message: Message) -> None:
    """Group chatter the bot can see (privacy mode off): taken here, and left unanswered."""


@router.callback_query()
async def private_only(callback: CallbackQuery, bot: Bot) -> None:
    me = await bot.me()
    text = _("The shop works only in a private chat: open @{username} and press Start.").format(
        username=me.username
    )
    await callback.answer(text, show_alert=True)
