"""Settings from the environment and `.env`.

`DatabaseSettings` is all that migrating needs, so `alembic` and `main.py --migrate-only` run
without a bot token; `Settings` adds what the bot itself needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config.base import base_url, given, parse_url, stripped
from bot.config.database import (
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    ReadReplicaSettings,
    database_secrets,
    normalize_database_url,
)
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

_TOKEN_PATTERN = re.compile(r"^\d+:[\w-]{20,}$")
_WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_REDIS_URL_HINT = "expected a Redis URL such as redis://localhost:6379/0"


# Pydantic orders the fields from the last base to the first, and a bad value is reported in
# that order: the database's first.
class Settings(ReadReplicaSettings, DatabaseSettings):
    """Everything the running bot needs."""

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_api_url: str | None = None
    # Seconds a failing Bot API call may be retried (429, 5xx, network); 0: never retried.
    bot_api_retry_timeout: float = Field(30.0, ge=0, le=300)
    redis_url: SecretStr | None = None
    payments_provider_token: SecretStr | None = None
    payments_currency: str = "RUB"
    catalog_page_size: int = Field(5, ge=1, le=20)
    # The language of users whose Telegram client is in neither of the bot's languages.
    default_language: Literal["en", "ru"] = "en"
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    # /healthz and /readyz for orchestrators, in polling mode (a webhook serves them itself).
    health_port: int | None = Field(None, ge=1, le=65535)
    health_host: str = "0.0.0.0"
    payments_journal: Path | None = None
    payment_retry_window: float = Field(15.0, ge=0)
    shutdown_timeout: float = Field(20.0, ge=0)
    # Updates handled at once (polling's tasks, webhook requests); the rest wait their turn,
    # so a burst of thousands is answered with bounded memory and database connections.
    updates_in_flight: int = Field(64, ge=1, le=10_000)
    # How long an instance holds an outbox row it sends; one that dies leaves its rows to
    # others (or its next start) after this.
    delivery_lease: float = Field(60.0, ge=5, le=3600)
    # Seconds a unit of a stock product stays reserved for a payer after pre-checkout.
    stock_reservation_seconds: float = Field(900.0, ge=1, le=86_400)
    # Payment gateways outside Telegram (README "Robokassa and Crypto Pay"); each is on when
    # its credentials are set. Their callbacks come to the webhook's server, or in polling
    # mode to PAYMENTS_HTTP_HOST:PAYMENTS_HTTP_PORT.
    robokassa_login: str | None = None
    robokassa_password1: SecretStr | None = None
    robokassa_password2: SecretStr | None = None
    robokassa_test_mode: bool = False
    robokassa_hash: Literal["md5", "sha256", "sha512"] = "md5"
    cryptopay_token: SecretStr | None = None
    cryptopay_testnet: bool = False
    # Crypto assets a buyer may pay with (e.g. USDT,TON); empty: all Crypto Pay accepts.
    cryptopay_assets: Annotated[tuple[str, ...], NoDecode] = ()
    # The Crypto Pay API's address; empty: Crypto Pay's own (testnet or mainnet).
    cryptopay_api_url: str | None = None
    payments_http_host: str = "0.0.0.0"
    payments_http_port: int | None = Field(None, ge=1, le=65535)
    # Minutes a gateway order may be paid in; then it expires and its reserved unit returns.
    gateway_order_minutes: int = Field(30, ge=5, le=1440)

    @field_validator(
        "bot_token",
        "redis_url",
        "payments_provider_token",
        "webhook_secret",
        "robokassa_password1",
        "robokassa_password2",
        "cryptopay_token",
        mode="before",
    )
    @classmethod
    def _strip_secret(cls, value: object) -> object:
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

    @field_validator("robokassa_login", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        value = stripped(value)
        return None if value == "" else value

    @field_validator("robokassa_hash", mode="before")
    @classmethod
    def _lower_hash(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cryptopay_assets", mode="before")
    @classmethod
    def _split_assets(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        assets = tuple(part.strip().upper() for part in value.split(",") if part.strip())
        if not all(re.fullmatch(r"[A-Z0-9]{2,10}", asset) for asset in assets):
            raise ValueError("expected comma-separated Crypto Pay asset codes such as USDT,TON")
        return assets

    @field_validator("bot_api_url", "webhook_url", "cryptopay_api_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return base_url(value)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = parse_url(value.get_secret_value(), ("redis", "rediss", "unix"), _REDIS_URL_HINT)
        if parts.scheme != "unix" and not re.fullmatch(r"/?\d*", parts.path):
            raise ValueError(f"the database after the host must be a number; {_REDIS_URL_HINT}")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _check_webhook_path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_\-/.:~]*", value):
            raise ValueError("expected a URL path such as /telegram/webhook")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("expected 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

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
    def robokassa_enabled(self) -> bool:
        return bool(self.robokassa_login)

    @property
    def cryptopay_enabled(self) -> bool:
        return given(self.cryptopay_token)

    @property
    def gateways_enabled(self) -> bool:
        """Whether a gateway outside Telegram is set, so payment callbacks are served."""
        return self.robokassa_enabled or self.cryptopay_enabled

    @property
    def webhook_endpoint(self) -> str | None:
        """The URL Telegram posts updates to, or None when the bot polls."""
        return None if self.webhook_url is None else self.webhook_url + self.webhook_path

    @property
    def payments_journal_path(self) -> Path:
        """PAYMENTS_JOURNAL, or `payments.journal` beside the SQLite file (else in data/)."""
        if self.payments_journal is not None:
            return self.payments_journal
        database_file = sqlite_path(self.database)
        directory = Path("data") if database_file is None else database_file.parent
        return directory / "payments.journal"

    @field_validator("payments_currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("expected a three-letter ISO 4217 currency code such as RUB")
        return value

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
