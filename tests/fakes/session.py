"""An aiogram Bot session answered in-process by `FakeTelegram`, with no HTTP.

Each request is serialised as aiogram's own HTTP session serialises it (`prepare_value`,
empty values left out), decoded and recorded as the HTTP fake records a request, answered by
the same rules, and read back by aiogram's own `check_response`: a refusal is the same
``TelegramBadRequest`` or ``TelegramForbiddenError`` the real session raises. This is the
pattern of aiogram's ``tests/mocked_bot.py``, with Telegram's answers instead of canned ones.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile

from tests.fakes.telegram import FakeTelegram, JSONDict, decode_params

# aiohttp's FormData labels a file part without a content type like this.
_UPLOAD_CONTENT_TYPE = "application/octet-stream"


class RecordingSession(BaseSession):
    def __init__(self, telegram: FakeTelegram) -> None:
        super().__init__()
        self.telegram = telegram

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        fields: dict[str, str] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                fields[key] = prepared
        uploads = {part: await _describe_upload(bot, part, file) for part, file in files.items()}
        status, body = await self.telegram.answer(
            method.__api_method__, decode_params(fields, uploads), bot.token
        )
        response = self.check_response(bot, method, status, self.json_dumps(body))
        return cast(TelegramType, response.result)

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("the fake Telegram serves no files")
        yield b""  # pragma: no cover - makes this an async generator

    async def close(self) -> None:
        return None


async def _describe_upload(bot: Bot, part: str, file: InputFile) -> JSONDict:
    size = 0
    async for chunk in file.read(bot):
        size += len(chunk)
    return {"filename": file.filename or part, "size": size, "content_type": _UPLOAD_CONTENT_TYPE}
