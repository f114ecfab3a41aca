"""Payment gateways outside Telegram (README "Robokassa and Crypto Pay"): their credentials,
and where their callbacks come in polling mode."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from bot.config.base import EnvSettings, base_url, given, stripped


class GatewaySettings(EnvSettings):
    """Each gateway is on when its credentials are set. Their callbacks come to the webhook's
    server, or in polling mode to PAYMENTS_HTTP_HOST:PAYMENTS_HTTP_PORT."""

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

    @field_validator("robokassa_password1", "robokassa_password2", "cryptopay_token", mode="before")
    @classmethod
    def _strip_gateway_secrets(cls, value: object) -> object:
        return stripped(value)

    @field_validator("robokassa_login", mode="before")
    @classmethod
    def _blank_login_is_none(cls, value: object) -> object:
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

    @field_validator("cryptopay_api_url")
    @classmethod
    def _check_cryptopay_api_url(cls, value: str | None) -> str | None:
        return base_url(value)

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
