"""Driving the payment gateways' side in-process: the bot's callback server (the aiohttp
application it serves) on a test client, and Robokassa's signed requests as Robokassa makes
them (https://docs.robokassa.ru/pay-interface)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.dao.models import Order
from bot.payments.gateway_orders import Gateways
from bot.serving.health import SCHEMA_AT_HEAD
from bot.web.payment_callbacks import add_payment_routes
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import ShopBot, running_shop

ROBOKASSA = {
    "robokassa_login": "demo-shop",
    "robokassa_password1": "first-Pa55word",
    "robokassa_password2": "second-Pa55word",
    "payments_http_port": 18080,  # required in polling mode; nothing binds it in-process
}
SECRETS = ("first-Pa55word", "second-Pa55word")


def gateways_of(shop: ShopBot) -> Gateways:
    gateways = shop.dispatcher["gateways"]
    assert isinstance(gateways, Gateways)
    return gateways


@asynccontextmanager
async def gateway_shop(database: ThrowawayDatabase, **settings: Any) -> AsyncIterator[ShopBot]:
    """`running_shop` with a gateway set up, whose HTTP client is closed on the way out (the
    bot's shutdown hook does it; the in-process shop runs no hooks)."""
    async with running_shop(database, **settings) as shop:
        try:
            yield shop
        finally:
            await gateways_of(shop).stop()


@asynccontextmanager
async def callback_server(shop: ShopBot) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The gateways' routes as the bot serves them, on a real socket, schema ready."""
    app = web.Application()
    readiness = shop.dispatcher["readiness"]
    readiness.schema = SCHEMA_AT_HEAD
    add_payment_routes(app, gateways_of(shop), shop.bot, readiness)
    async with TestClient(TestServer(app)) as client:
        yield client


def link_params(call: Call) -> dict[str, str]:
    """The query of the payment link on the message's one URL button."""
    [[button]] = call.params["reply_markup"]["inline_keyboard"]
    return dict(parse_qsl(urlsplit(button["url"]).query))


def robokassa_sign(algorithm: str, *parts: Any, shp: Mapping[str, str]) -> str:
    """Robokassa's signature, written out apart from the bot's own code."""
    text = ":".join([*map(str, parts), *(f"{key}={shp[key]}" for key in sorted(shp))])
    return hashlib.new(algorithm, text.encode()).hexdigest().upper()


def result_params(
    order: Order,
    telegram_id: int,
    *,
    password: str = ROBOKASSA["robokassa_password2"],  # type: ignore[assignment]
    out_sum: str | None = None,
    inv_id: int | None = None,
    algorithm: str = "md5",
) -> dict[str, str]:
    """A Result URL notification for the order, signed with `password` (#2: Robokassa's);
    OutSum with six decimals, as Robokassa sends it."""
    out_sum = out_sum or f"{Decimal(order.amount).scaleb(-2):.6f}"
    number = inv_id or order.id
    shp = {"Shp_product": str(order.product_id), "Shp_user": str(telegram_id)}
    signature = robokassa_sign(algorithm, out_sum, number, password, shp=shp)
    return {"OutSum": out_sum, "InvId": str(number), "SignatureValue": signature, **shp}


async def orders(shop: ShopBot) -> list[Order]:
    return await shop.rows(Order)
