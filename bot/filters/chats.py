"""Where an update comes from: a private chat with the bot, or a message meant for the bot in
a group."""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatType, MessageEntityType
from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, Message


class OutsidePrivateChat(BaseFilter):
    """A message in a group, supergroup or channel, or a button on such a message (or on no
    message of the bot's at all). A payment is never caught: it must be recorded wherever it
    arrives."""

    async def __call__(self, event: Message | CallbackQuery) -> bool:
        if isinstance(event, CallbackQuery):
            return event.message is None or event.message.chat.type != ChatType.PRIVATE
        return event.chat.type != ChatType.PRIVATE and event.successful_payment is None


class AddressedToBot(BaseFilter):
    """A group message for this bot: a command without @name or with this bot's, a mention of
    @this_bot, or a reply to one of its messages."""

    async def __call__(self, message: Message, bot: Bot) -> bool:
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == bot.id:
            return True
        username = ((await bot.me()).username or "").lower()
        text = message.text or message.caption or ""
        for entity in message.entities or message.caption_entities or []:
            word = entity.extract_from(text).lower()
            if entity.type == MessageEntityType.BOT_COMMAND and entity.offset == 0:
                _, _, addressee = word.partition("@")
                return addressee in ("", username)
            if entity.type == MessageEntityType.MENTION and word == f"@{username}":
                return True
        return False
