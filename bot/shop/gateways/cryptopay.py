"""A small client of the Crypto Pay API (@CryptoBot), as documented at
https://help.send.tg/en/articles/10279948-crypto-pay-api: `createInvoice`, `getInvoices`, and
the webhook's signature.

Our own rather than aiocryptopay: the shop needs two methods and one signature check, with
its own timeouts, a token that never reaches a log or an error, and an API address it can
point at a stand-in; aiohttp is here already, and a second set of models (and a pinned
pydantic range) would come with the library.

Every request carries the app's token in the `Crypto-Pay-API-Token` header; an answer is
`{"ok": true, "result": ...}` or `{"ok": false, "error": {"code": .., "name": ..}}`. A webhook
is signed: `crypto-pay-api-signature` = hex HMAC-SHA-256 of the raw body, keyed with the
SHA-256 of the token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from bot.config import Settings
from bot.shop.money import exponent

MAINNET_URL = "https://pay.crypt.bot/api/"
TESTNET_URL = "https://testnet-pay.crypt.bot/api/"
TOKEN_HEADER = "Crypto-Pay-API-Token"
SIGNATURE_HEADER = "crypto-pay-api-signature"
PAID = "paid"
# getInvoices returns at most this many invoices a call.
INVOICES_PER_CALL = 100
_TIMEOUT = aiohttp.ClientTimeout(total=15)


class CryptoPayError(Exception):
    """A call that failed: the network, or the API's refusal (its error's name)."""


@dataclass(frozen=True)
class CryptoInvoice:
    invoice_id: int
    status: str  # active, paid or expired
    payload: str | None
    amount: Decimal
    fiat: str | None  # the fiat currency of a fiat-priced invoice
    pay_url: str | None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> CryptoInvoice:
        return cls(
            invoice_id=int(raw["invoice_id"]),
            status=str(raw["status"]),
            payload=raw.get("payload"),
            amount=Decimal(str(raw["amount"])),
            fiat=raw.get("fiat"),
            # bot_invoice_url since API 1.4; pay_url before it
            pay_url=raw.get("bot_invoice_url") or raw.get("pay_url"),
        )

    def pays(self, amount: int, currency: str) -> bool:
        """Whether it is a fiat invoice of this amount (minor units) in this currency."""
        return self.fiat == currency and self.amount == Decimal(amount).scaleb(-exponent(currency))


def signed_by(token: str, body: bytes, signature: str) -> bool:
    """Whether a webhook body carries the signature of the app with this token (constant
    time)."""
    key = hashlib.sha256(token.encode()).digest()
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def amount_of(amount: int, currency: str) -> str:
    """An amount in minor units as the API takes it: `150.00`."""
    digits = exponent(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


class CryptoPayClient:
    def __init__(self, token: str, base_url: str, accepted_assets: Sequence[str] = ()) -> None:
        self._token = token
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.accepted_assets = tuple(accepted_assets)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CryptoPayClient | None:
        if settings.cryptopay_token is None or not settings.cryptopay_enabled:
            return None
        default = TESTNET_URL if settings.cryptopay_testnet else MAINNET_URL
        return cls(
            settings.cryptopay_token.get_secret_value(),
            settings.cryptopay_api_url or default,
            settings.cryptopay_assets,
        )

    def signed(self, body: bytes, signature: str) -> bool:
        return signed_by(self._token, body, signature)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        try:
            async with self._session.post(
                self.base_url + method, json=params, headers={TOKEN_HEADER: self._token}
            ) as response:
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise CryptoPayError(
                f"{method}: {type(error).__name__} {' '.join(str(error).split())}".strip()
            ) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            refusal = answer.get("error") if isinstance(answer, dict) else None
            name = refusal.get("name") if isinstance(refusal, dict) else None
            raise CryptoPayError(f"{method}: refused ({name or 'no error given'})")
        return answer["result"]

    async def create_invoice(
        self, *, amount: int, currency: str, description: str, payload: str, expires_in: int
    ) -> CryptoInvoice:
        """A fiat-priced invoice payable in the accepted assets (all, if none are set)."""
        params: dict[str, Any] = {
            "currency_type": "fiat",
            "fiat": currency,
            "amount": amount_of(amount, currency),
            "description": description[:1024],
            "payload": payload,
            "expires_in": expires_in,
        }
        if self.accepted_assets:
            params["accepted_assets"] = ",".join(self.accepted_assets)
        return CryptoInvoice.from_api(await self._call("createInvoice", params))

    async def invoices(self, invoice_ids: Sequence[int]) -> list[CryptoInvoice]:
        """These invoices as they stand (asked INVOICES_PER_CALL at a time)."""
        found = []
        for start in range(0, len(invoice_ids), INVOICES_PER_CALL):
            chunk = invoice_ids[start : start + INVOICES_PER_CALL]
            params = {"invoice_ids": ",".join(map(str, chunk)), "count": len(chunk)}
            result = await self._call("getInvoices", params)
            found += [CryptoInvoice.from_api(item) for item in result["items"]]
        return found
