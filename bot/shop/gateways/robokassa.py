"""Robokassa's payment link and Result URL notification, as its documentation describes them
(https://docs.robokassa.ru/pay-interface, "Интерфейс оплаты"; notifications:
https://docs.robokassa.ru/notifications-and-redirects).

The link carries `MerchantLogin`, `OutSum`, `InvId`, `Description`, the `Shp_` parameters,
`IsTest` and `SignatureValue` = hash("MerchantLogin:OutSum:InvId:Password#1[:Shp_a=..]")
with the `Shp_` parameters sorted by name. The Result URL gets `OutSum`, `InvId`, the `Shp_`
parameters back and `SignatureValue` = hash("OutSum:InvId:Password#2[:Shp_...]"); the shop
answers `OK<InvId>`. The Success URL's signature uses password #1 in the same way. The hash is
the one chosen in the merchant cabinet (MD5, SHA-256 or SHA-512), in hex of either case.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from bot.config import Settings
from bot.shop.money import exponent

PAYMENT_URL = "https://auth.robokassa.ru/Merchant/Index.aspx"
# Robokassa shows at most 100 characters of the description.
DESCRIPTION_MAX = 100
_MAX_INV_ID = 2**31 - 1


@dataclass(frozen=True)
class Robokassa:
    login: str
    password1: str
    password2: str
    algorithm: str  # md5, sha256 or sha512
    test: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Robokassa | None:
        if not settings.robokassa_enabled:
            return None
        assert settings.robokassa_login is not None  # Settings wants all three or none
        assert settings.robokassa_password1 is not None
        assert settings.robokassa_password2 is not None
        return cls(
            login=settings.robokassa_login,
            password1=settings.robokassa_password1.get_secret_value(),
            password2=settings.robokassa_password2.get_secret_value(),
            algorithm=settings.robokassa_hash,
            test=settings.robokassa_test_mode,
        )

    def sign(self, *parts: str, shp: Mapping[str, str]) -> str:
        """The hash of the parts joined by ':', then the `Shp_` parameters sorted by name."""
        extra = [f"{name}={shp[name]}" for name in sorted(shp)]
        return hashlib.new(self.algorithm, ":".join([*parts, *extra]).encode()).hexdigest()

    def payment_url(
        self, inv_id: int, amount: int, currency: str, description: str, shp: Mapping[str, str]
    ) -> str:
        """The signed link the buyer pays on."""
        out_sum = out_sum_of(amount, currency)
        params = {
            "MerchantLogin": self.login,
            "OutSum": out_sum,
            "InvId": str(inv_id),
            "Description": description[:DESCRIPTION_MAX],
            "SignatureValue": self.sign(self.login, out_sum, str(inv_id), self.password1, shp=shp),
            **shp,
        }
        if self.test:
            params["IsTest"] = "1"
        return f"{PAYMENT_URL}?{urlencode(params)}"

    def verify(self, params: Mapping[str, str], *, result: bool) -> Notice:
        """The notice in a Result URL (`result`, password #2) or Success URL (password #1)
        request; RobokassaRefused when it is malformed or its signature is wrong (compared in
        constant time)."""
        raw_sum, raw_id = params.get("OutSum", ""), params.get("InvId", "")
        given = params.get("SignatureValue", "")
        try:
            out_sum = Decimal(raw_sum)
            inv_id = int(raw_id)
        except (InvalidOperation, ValueError):
            raise RobokassaRefused("OutSum or InvId is missing or not a number") from None
        if not 1 <= inv_id <= _MAX_INV_ID or not out_sum.is_finite():
            raise RobokassaRefused("OutSum or InvId is out of range")
        shp = {name: value for name, value in params.items() if name.startswith("Shp_")}
        password = self.password2 if result else self.password1
        expected = self.sign(raw_sum, raw_id, password, shp=shp)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
            raise RobokassaRefused("the signature does not match")
        return Notice(inv_id=inv_id, out_sum=out_sum, shp=shp)


@dataclass(frozen=True)
class Notice:
    """A signed Robokassa notice: the order it names, the sum paid, its `Shp_` parameters."""

    inv_id: int
    out_sum: Decimal
    shp: dict[str, str]

    def pays(self, amount: int, currency: str) -> bool:
        """Whether the sum is this order's amount (in the currency's minor units)."""
        return self.out_sum == Decimal(amount).scaleb(-exponent(currency))


class RobokassaRefused(Exception):
    """A notice that is not Robokassa's (malformed, or signed with another password)."""


def out_sum_of(amount: int, currency: str) -> str:
    """An amount in minor units as Robokassa's OutSum: `150.00`."""
    digits = exponent(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"
