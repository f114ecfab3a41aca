"""Payments through Telegram: the provider and currency, the journal a payment is written to
before anything else, and how long its retries and a reserved unit of stock last."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from bot.config.base import EnvSettings, stripped


class PaymentSettings(EnvSettings):
    """A payment from the invoice to the purchase."""

    payments_provider_token: SecretStr | None = None
    payments_currency: str = "RUB"
    payments_journal: Path | None = None
    payment_retry_window: float = Field(15.0, ge=0)
    # Seconds a unit of a stock product stays reserved for a payer after pre-checkout.
    stock_reservation_seconds: float = Field(900.0, ge=1, le=86_400)
    # The inviter's reward for an invited buyer's first purchase: a personal one-use code for
    # this many percent off; 0 gives none.
    referral_reward_percent: int = Field(10, ge=0, le=99)

    @field_validator("payments_provider_token", mode="before")
    @classmethod
    def _strip_provider_token(cls, value: object) -> object:
        return stripped(value)

    @field_validator("payments_currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("expected a three-letter ISO 4217 currency code such as RUB")
        return value
