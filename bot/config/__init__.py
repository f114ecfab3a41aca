"""Settings from the environment and `.env`, one module per area.

`DatabaseSettings` is all that migrating needs, so `alembic` and `main.py --migrate-only` run
without a bot token; `Settings` adds what the bot itself needs, and checks what one area's
values mean for another's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config.base import given
from bot.config.database import (
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    ReadReplicaSettings,
    database_secrets,
    normalize_database_url,
)
from bot.config.gateways import GatewaySettings
from bot.config.payments import PaymentSettings
from bot.config.screens import ScreenSettings
from bot.config.serving import ServingSettings
from bot.config.telegram import TelegramSettings
from bot.dao.database import sqlite_path
from bot.errors import ConfigError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "DatabaseSettings",
    "Settings",
    "SettingsT",
    "database_secrets",
    "load_settings",
    "normalize_database_url",
]


# Pydantic orders the fields from the last base to the first, and a bad value is reported in
# that order: the database's first, the gateways' last.
class Settings(
    GatewaySettings,
    ScreenSettings,
    PaymentSettings,
    ServingSettings,
    ReadReplicaSettings,
    TelegramSettings,
    DatabaseSettings,
):
    """Everything the running bot needs, read flat (`settings.webhook_url`). Each area checks
    its own variables; the checks here are those across areas."""

    @model_validator(mode="after")
    def _check_read_replica(self) -> Settings:
        if self.database_read_url is not None and self.database.get_backend_name() != "postgresql":
            raise ValueError(
                "DATABASE_READ_URL: reads from a replica need DATABASE_URL on PostgreSQL (a "
                "SQLite database has no replicas); unset DATABASE_READ_URL"
            )
        return self

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.webhook_url is None:
            return self
        if self.health_port is not None:
            raise ValueError(
                "HEALTH_PORT is for polling: with WEBHOOK_URL, /healthz and /readyz are served "
                "on WEBHOOK_PORT; unset HEALTH_PORT"
            )
        if self.webhook_secret is None:
            raise ValueError(
                "WEBHOOK_SECRET: required when WEBHOOK_URL is set, so that only Telegram can "
                "post updates (1-256 characters of A-Z, a-z, 0-9, _ and -)"
            )
        # The token in the URL would leak it to every proxy log; the secret header is the key.
        if self.bot_token.get_secret_value() in self.webhook_path:
            raise ValueError("WEBHOOK_PATH: must not contain the bot token; use WEBHOOK_SECRET")
        return self

    @model_validator(mode="after")
    def _check_gateways(self) -> Settings:
        robokassa = [
            bool(self.robokassa_login),
            given(self.robokassa_password1),
            given(self.robokassa_password2),
        ]
        if any(robokassa) and not all(robokassa):
            raise ValueError(
                "ROBOKASSA_LOGIN, ROBOKASSA_PASSWORD1 and ROBOKASSA_PASSWORD2: set all three "
                "(from the Robokassa merchant cabinet) to take payments through Robokassa, or none"
            )
        if self.webhook_url is not None:
            if self.payments_http_port is not None:
                raise ValueError(
                    "PAYMENTS_HTTP_PORT is for polling: with WEBHOOK_URL, payment callbacks are "
                    "served on WEBHOOK_PORT; unset PAYMENTS_HTTP_PORT"
                )
            return self
        if self.gateways_enabled and self.payments_http_port is None:
            raise ValueError(
                "PAYMENTS_HTTP_PORT: required in polling mode when Robokassa or Crypto Pay is "
                "set, to receive their payment callbacks (or set WEBHOOK_URL)"
            )
        if self.payments_http_port is not None and self.payments_http_port == self.health_port:
            raise ValueError("PAYMENTS_HTTP_PORT: must differ from HEALTH_PORT")
        return self

    @property
    def payments_journal_path(self) -> Path:
        """PAYMENTS_JOURNAL, or `payments.journal` beside the SQLite file (else in data/)."""
        if self.payments_journal is not None:
            return self.payments_journal
        database_file = sqlite_path(self.database)
        directory = Path("data") if database_file is None else database_file.parent
        return directory / "payments.journal"

    @property
    def secrets(self) -> list[str]:
        """Values that must never reach a log line."""
        found = [self.bot_token.get_secret_value()]
        for secret in (
            self.database_read_url,
            self.payments_provider_token,
            self.redis_url,
            self.webhook_secret,
            self.robokassa_password1,
            self.robokassa_password2,
            self.cryptopay_token,
        ):
            if secret is not None:
                found.append(secret.get_secret_value())
                password = _password_of(secret.get_secret_value())
                if password:
                    found.append(password)
        return found + database_secrets(self)


def _password_of(raw_url: str) -> str | None:
    try:
        return make_url(raw_url).password
    except ArgumentError:
        return None


SettingsT = TypeVar("SettingsT", bound=DatabaseSettings)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Build settings or raise ConfigError with one line naming every bad variable."""
    try:
        return cls()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            name = "_".join(str(part) for part in item["loc"]).upper()
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required; set it in the environment or in .env"
            problems.append(f"{name}: {message}" if item["loc"] else message)
        raise ConfigError("; ".join(problems)) from None
