"""What users see: how many items a page lists, and the language of those whose client is in
neither of the bot's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config.base import EnvSettings


class ScreenSettings(EnvSettings):
    """The screens' size and default language."""

    catalog_page_size: int = Field(5, ge=1, le=20)
    # The language of users whose Telegram client is in neither of the bot's languages.
    default_language: Literal["en", "ru"] = "en"
