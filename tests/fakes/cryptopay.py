"""A stand-in for the Crypto Pay API (@CryptoBot) on 127.0.0.1, in the test's event loop.

It speaks the API's wire protocol as https://help.send.tg/en/articles/10279948-crypto-pay-api
describes it: `POST /api/<method>` with the app's token in `Crypto-Pay-API-Token` (any other
token is refused with 401 UNAUTHORIZED, as the real API does), answers
`{"ok": true, "result": ...}` or `{"ok": false, "error": {...}}`. It keeps the invoices it
made; `pay` marks one paid and returns the `invoice_paid` webhook update the real service
would post, and `sign` its `crypto-pay-api-signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from itertools import count
from types import TracebackType
from typing import Any, Self

from aiohttp import web

JSONDict = dict[str, Any]


class FakeCryptoPay:
    def __init__(self, token: str) -> None:
        self.token = token
        self.invoices: dict[int, JSONDict] = {}
        self.calls: list[tuple[str, JSONDict]] = []
        self.down = False  # answer 502 to everything, as a gateway outage would
        self._ids = count(1001)
        self._updates = count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=502, text="Bad Gateway")
        if request.headers.get("Crypto-Pay-API-Token") != self.token:
            return _error(401, "UNAUTHORIZED")
        params = await request.json() if request.can_read_body else dict(request.query)
        method = request.match_info["method"]
        self.calls.append((method, params))
        if method == "createInvoice":
            return self._create_invoice(params)
        if method == "getInvoices":
            wanted = {int(part) for part in str(params.get("invoice_ids", "")).split(",") if part}
            items = [invoice for number, invoice in self.invoices.items() if number in wanted]
            return web.json_response({"ok": True, "result": {"items": items}})
        return _error(405, "METHOD_NOT_FOUND")

    def _create_invoice(self, params: JSONDict) -> web.Response:
        if params.get("currency_type") != "fiat" or not params.get("fiat"):
            return _error(400, "FIAT_REQUIRED")
        if not params.get("amount"):
            return _error(400, "AMOUNT_REQUIRED")
        invoice_id = next(self._ids)
        invoice_hash = f"IV{invoice_id}"
        invoice = {
            "invoice_id": invoice_id,
            "hash": invoice_hash,
            "currency_type": "fiat",
            "fiat": params["fiat"],
            "amount": params["amount"],
            "accepted_assets": str(params.get("accepted_assets", "")).split(",")
            if params.get("accepted_assets")
            else ["USDT", "TON", "BTC"],
            "status": "active",
            "description": params.get("description"),
            "payload": params.get("payload"),
            "bot_invoice_url": f"https://t.me/CryptoTestnetBot?start={invoice_hash}",
            "created_at": _now(),
            "allow_comments": True,
            "allow_anonymous": True,
        }
        self.invoices[invoice_id] = invoice
        return web.json_response({"ok": True, "result": invoice})

    def pay(self, invoice_id: int, *, amount: str | None = None) -> bytes:
        """Mark the invoice paid; the body of the `invoice_paid` webhook update. `amount`
        forges another sum in the update (a tampered body)."""
        invoice = self.invoices[invoice_id]
        invoice.update(status="paid", paid_at=_now(), paid_asset="USDT", paid_amount="1.23")
        sent = {**invoice, "amount": amount} if amount is not None else invoice
        update = {
            "update_id": next(self._updates),
            "update_type": "invoice_paid",
            "request_date": _now(),
            "payload": sent,
        }
        return json.dumps(update).encode()

    def sign(self, body: bytes, token: str | None = None) -> str:
        """The `crypto-pay-api-signature` of a body, as the app with `token` (ours) signs."""
        key = hashlib.sha256((token or self.token).encode()).digest()
        return hmac.new(key, body, hashlib.sha256).hexdigest()


def _error(code: int, name: str) -> web.Response:
    return web.json_response({"ok": False, "error": {"code": code, "name": name}}, status=code)


def _now() -> str:
    return datetime.now(UTC).isoformat()
