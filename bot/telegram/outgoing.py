"""One message the bot sends, as a value: what the outbox renders and a sender sends."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup


@dataclass(frozen=True)
class Part:
    """A text message (HTML) or, with `document` (a Telegram file id), a document with
    `text` as its caption; either with inline buttons."""

    text: str
    document: str | None = None
    markup: InlineKeyboardMarkup | None = None

    async def send(self, bot: Bot, chat_id: int) -> None:
        if self.document is not None:
            await bot.send_document(
                chat_id, self.document, caption=self.text, reply_markup=self.markup
            )
        else:
            await bot.send_message(chat_id, self.text, reply_markup=self.markup)
