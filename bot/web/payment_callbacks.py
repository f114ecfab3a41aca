"""The gateways' callbacks over HTTP: Robokassa's Result, Success and Fail URLs and Crypto
Pay's webhook. On the webhook's own aiohttp application when WEBHOOK_URL is set, else on a
server of their own (PAYMENTS_HTTP_HOST:PAYMENTS_HTTP_PORT); only when a gateway is set up.
The paths hold no secret: a callback proves itself by its signature.

A callback before the schema is ready, or once the bot is stopping, gets 503: both gateways
call again (Robokassa retries a Result URL that does not answer OK<InvId>; Crypto Pay retries
a webhook for days).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html import escape

from aiogram import Bot
from aiohttp import web
from loguru import logger

from bot.i18n import _, default_language, speaking
from bot.payments.delivery import tell_buyer
from bot.payments.gateway_orders import Gateways, Refused
from bot.serving.health import Readiness
from bot.serving.listening import serving
from bot.shop.gateways.cryptopay import SIGNATURE_HEADER

ROBOKASSA_RESULT_PATH = "/payments/robokassa/result"
ROBOKASSA_SUCCESS_PATH = "/payments/robokassa/success"
ROBOKASSA_FAIL_PATH = "/payments/robokassa/fail"
CRYPTOPAY_WEBHOOK_PATH = "/payments/cryptopay/webhook"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_payment_routes(
    app: web.Application, gateways: Gateways, bot: Bot, readiness: Readiness
) -> None:
    def ready(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not readiness.schema_at_head or not gateways.accepting:
                return web.Response(status=503, text="starting or stopping; call again")
            return await handler(request)

        return guarded

    async def robokassa_result(request: web.Request) -> web.StreamResponse:
        params = await _params(request)
        try:
            inv_id = await gateways.robokassa_result(bot, params)
        except Refused as refusal:
            logger.warning(
                "Robokassa Result URL refused (InvId {!r}): {}", params.get("InvId"), refusal
            )
            return web.Response(status=400, text="refused")
        except OSError as error:
            logger.error("Robokassa Result URL for InvId {} not taken: {}", params["InvId"], error)
            return web.Response(status=503, text="call again")
        return web.Response(text=f"OK{inv_id}")

    async def robokassa_success(request: web.Request) -> web.StreamResponse:
        return await _robokassa_return(request, gateways, bot, success=True)

    async def robokassa_fail(request: web.Request) -> web.StreamResponse:
        return await _robokassa_return(request, gateways, bot, success=False)

    async def cryptopay_webhook(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            await gateways.cryptopay_webhook(bot, body, request.headers.get(SIGNATURE_HEADER, ""))
        except Refused as refusal:
            logger.warning("Crypto Pay webhook refused: {}", refusal)
            return web.Response(status=400, text="refused")
        except OSError as error:
            logger.error("Crypto Pay webhook not taken: {}", error)
            return web.Response(status=503, text="call again")
        return web.Response(text="ok")

    if gateways.robokassa is not None:
        for path, handler in (
            (ROBOKASSA_RESULT_PATH, robokassa_result),
            (ROBOKASSA_SUCCESS_PATH, robokassa_success),
            (ROBOKASSA_FAIL_PATH, robokassa_fail),
        ):
            # The merchant cabinet chooses GET or POST for each.
            app.router.add_get(path, ready(handler))
            app.router.add_post(path, ready(handler))
    if gateways.cryptopay is not None:
        app.router.add_post(CRYPTOPAY_WEBHOOK_PATH, ready(cryptopay_webhook))


async def _params(request: web.Request) -> dict[str, str]:
    """The request's parameters, from the query and a form body alike."""
    params = {name: value for name, value in request.query.items()}
    if request.can_read_body:
        form = await request.post()
        params.update({name: str(value) for name, value in form.items()})
    return params


async def _robokassa_return(
    request: web.Request, gateways: Gateways, bot: Bot, *, success: bool
) -> web.StreamResponse:
    """The page a buyer sees back from Robokassa, and a line from the bot in the chat."""
    params = await _params(request)
    try:
        notice = await gateways.robokassa_return(params, success=success)
    except Refused as refusal:
        logger.warning(
            "Robokassa {} URL refused (InvId {!r}): {}",
            "Success" if success else "Fail",
            params.get("InvId"),
            refusal,
        )
        with speaking(default_language()):
            return _page(_("This link is not valid."), status=400)
    with speaking(notice.language or default_language()):
        if success:
            page = _(
                "Thank you! Your payment is accepted: return to Telegram, your purchase "
                "arrives in the chat with the bot."
            )
            line = _(
                "Robokassa has accepted your payment for order #{number}: your purchase "
                "arrives here as soon as the payment is confirmed."
            ).format(number=notice.order_id)
        else:
            page = _("The payment was not completed. Return to Telegram to try again.")
            line = _(
                "The payment for order #{number} was not completed. You can pay again from "
                "the product's card."
            ).format(number=notice.order_id)
        if not notice.paid:
            await tell_buyer(bot, notice.telegram_id, line)
        return _page(page)


def _page(text: str, status: int = 200) -> web.Response:
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(text)}</title></head><body><p>{escape(text)}</p></body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html")


@asynccontextmanager
async def payment_server(
    host: str, port: int, gateways: Gateways, bot: Bot, readiness: Readiness
) -> AsyncIterator[None]:
    """The callbacks on host:port while the block runs (polling mode)."""
    app = web.Application()
    add_payment_routes(app, gateways, bot, readiness)
    what = "serve payment callbacks"
    async with serving(app, host, port, what=what, setting="PAYMENTS_HTTP_PORT"):
        logger.info("payment callbacks on {}:{}", host, port)
        yield
