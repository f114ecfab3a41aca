"""The Bot API's settings: the bot's token and server, its admins, and how long a failing call
is retried."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from bot.config.base import EnvSettings, base_url, stripped

_TOKEN_PATTERN = re.compile(r"^\d+:[\w-]{20,}$")
# Messages a second Telegram sends for a bot without charging for them.
FREE_BROADCAST_RATE = 30.0


class TelegramSettings(EnvSettings):
    """The bot as Telegram knows it."""

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_api_url: str | None = None
    # Seconds a failing Bot API call may be retried (429, 5xx, network); 0: never retried.
    bot_api_retry_timeout: float = Field(30.0, ge=0, le=300)
    # Broadcast messages a second. Telegram takes about 30 a second from a bot for free, and
    # up to 1,000 with `allow_paid_broadcast`, which costs Stars per message: only with
    # BROADCAST_PAID=true may the rate go past FREE_BROADCAST_RATE.
    broadcast_rate: float = Field(25.0, gt=0, le=1000)
    broadcast_paid: bool = False

    @field_validator("bot_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        return stripped(value)

    @field_validator("bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("not a bot token; expected <digits>:<secret> as given by @BotFather")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            if not all(part.isdigit() for part in parts if part):
                raise ValueError("expected comma-separated numeric Telegram user ids")
            return frozenset(int(part) for part in parts if part)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @model_validator(mode="after")
    def _check_broadcast_rate(self) -> TelegramSettings:
        if self.broadcast_rate > FREE_BROADCAST_RATE and not self.broadcast_paid:
            raise ValueError(
                f"BROADCAST_RATE above {FREE_BROADCAST_RATE:g} messages a second needs "
                "BROADCAST_PAID=true (Telegram then charges Stars for each message)"
            )
        return self

    @field_validator("bot_api_url")
    @classmethod
    def _check_bot_api_url(cls, value: str | None) -> str | None:
        return base_url(value)
