"""How an instance serves: polling or a webhook, /healthz and /readyz, the Redis instances
share, how many updates it handles at once, and how long stopping and an outbox claim take."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from bot.config.base import EnvSettings, base_url, parse_url, stripped

_WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_REDIS_URL_HINT = "expected a Redis URL such as redis://localhost:6379/0"


class ServingSettings(EnvSettings):
    """Updates in, one instance among others."""

    redis_url: SecretStr | None = None
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    # /healthz and /readyz for orchestrators, in polling mode (a webhook serves them itself).
    health_port: int | None = Field(None, ge=1, le=65535)
    health_host: str = "0.0.0.0"
    shutdown_timeout: float = Field(20.0, ge=0)
    # Updates handled at once (polling's tasks, webhook requests); the rest wait their turn,
    # so a burst of thousands is answered with bounded memory and database connections.
    updates_in_flight: int = Field(64, ge=1, le=10_000)
    # How long an instance holds an outbox row it sends; one that dies leaves its rows to
    # others (or its next start) after this.
    delivery_lease: float = Field(60.0, ge=5, le=3600)

    @field_validator("redis_url", "webhook_secret", mode="before")
    @classmethod
    def _strip_serving_secrets(cls, value: object) -> object:
        return stripped(value)

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
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

    @property
    def webhook_endpoint(self) -> str | None:
        """The URL Telegram posts updates to, or None when the bot polls."""
        return None if self.webhook_url is None else self.webhook_url + self.webhook_path
