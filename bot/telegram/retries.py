"""Bot API calls retried when the failure passes: Telegram's flood control (429, after the
`retry_after` it names), its server errors (5xx) and the network, with exponential backoff.

One request middleware on the bot's session does it for every call the handlers make (sends,
edits, invoices, callback and pre-checkout answers, admin notices). A call is retried within a
time budget and then fails as it would have: no retry starts and no wait runs past the budget.
Refusals (400, 403, ...) are never retried: the same request would be refused again. Nor is
a call that sends something (a message, an invoice, a refund) once it may have reached Telegram
(a timeout, a dropped connection): a second try could deliver it twice. Such a call is retried
on network errors only when no connection was made. A call made under `answering_by` must
reach Telegram by that moment: its retries and each attempt end there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerInlineQuery,
    AnswerPreCheckoutQuery,
    DeleteWebhook,
    GetMe,
    GetUpdates,
    RefundStarPayment,
    SetMyCommands,
    SetWebhook,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiohttp import ClientConnectorError
from loguru import logger

if TYPE_CHECKING:
    from aiogram import Bot

FIRST_BACKOFF = 0.5  # seconds before the first retry of a 5xx or network error
MAX_BACKOFF = 8.0
# Answers Telegram only takes for a short time: a pre-checkout query must be answered within
# 10 s of being asked, a button's spinner stops on its own soon after a press, and an inline
# query's answer is wanted while the user types.
SHORT_BUDGETS: dict[type[TelegramMethod[Any]], float] = {
    AnswerPreCheckoutQuery: 8.0,
    AnswerCallbackQuery: 5.0,
    AnswerInlineQuery: 5.0,  # the user is typing: a late list is a useless one
}
# getUpdates: the polling loop backs off on its own. Start-up calls: a start that cannot
# reach Telegram fails at once (exit 3) and is restarted, rather than seeming to hang.
NOT_RETRIED: tuple[type[TelegramMethod[Any]], ...] = (
    GetUpdates,
    GetMe,
    SetMyCommands,
    DeleteWebhook,
    SetWebhook,
)

# The event loop time by which the calls made now must have reached Telegram, if any.
_answer_by: ContextVar[float | None] = ContextVar("answer_by", default=None)
# Calls made now are retried by their caller (a broadcast, which slows all its sends at once).
_caller_retries: ContextVar[bool] = ContextVar("caller_retries", default=False)


@contextmanager
def retried_by_caller() -> Iterator[None]:
    """Bot API calls made inside fail at once, for the caller to retry as it sees fit."""
    token = _caller_retries.set(True)
    try:
        yield
    finally:
        _caller_retries.reset(token)


@contextmanager
def answering_by(deadline: float) -> Iterator[None]:
    """Bot API calls made inside are retried, and each attempt waits, only until `deadline`
    (event loop time): for an answer Telegram takes only within a window that opened before
    the call, such as a pre-checkout query's 10 s."""
    token = _answer_by.set(deadline)
    try:
        yield
    finally:
        _answer_by.reset(token)


def sends_something(method: TelegramMethod[Any]) -> bool:
    """A call that, made twice, shows or does something twice (sendMessage, sendInvoice,
    sendDocument, ..., refundStarPayment); edits and answers are harmless to repeat."""
    return method.__api_method__.startswith("send") or isinstance(method, RefundStarPayment)


def may_have_arrived(error: TelegramAPIError) -> bool:
    """A network error after which Telegram may have done what was asked: anything but a
    connection that was never made."""
    return isinstance(error, TelegramNetworkError) and not isinstance(
        error.__cause__, ClientConnectorError
    )


class RetryMiddleware(BaseRequestMiddleware):
    """Retries a Bot API call for up to `budget` seconds (less for the short-lived answers)."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, NOT_RETRIED) or _caller_retries.get():
            return await make_request(bot, method)
        clock = asyncio.get_running_loop().time
        deadline = clock() + self.budget_of(method)
        answer_by = _answer_by.get()
        if answer_by is not None:
            deadline = min(deadline, answer_by)
        backoff = FIRST_BACKOFF
        while True:
            try:
                return await attempt(make_request, bot, method, answer_by)
            except TelegramAPIError as error:
                wait = retry_wait(error, backoff)
                if wait is None or clock() + wait > deadline:
                    raise
                if sends_something(method) and may_have_arrived(error):
                    raise
                logger.warning(
                    "Bot API {} failed ({}); retrying in {:g} s",
                    method.__api_method__,
                    describe(error, bot.token),
                    wait,
                )
                if not isinstance(error, TelegramRetryAfter):
                    backoff = min(backoff * 2, MAX_BACKOFF)
            await asyncio.sleep(wait)

    def budget_of(self, method: TelegramMethod[TelegramType]) -> float:
        return min(self.budget, SHORT_BUDGETS.get(type(method), self.budget))


async def attempt(
    make_request: NextRequestMiddlewareType[TelegramType],
    bot: Bot,
    method: TelegramMethod[TelegramType],
    deadline: float | None,
) -> Response[TelegramType]:
    """One request; with a deadline it is given up there, failing as a timed out request
    does (a network error)."""
    if deadline is None:
        return await make_request(bot, method)
    try:
        async with asyncio.timeout_at(deadline):
            return await make_request(bot, method)
    except TimeoutError:
        raise TelegramNetworkError(method=method, message="Request timeout error") from None


def is_transient(error: TelegramAPIError) -> bool:
    """A failure that passes: flood control, Telegram's server errors, the network (but not
    a file too large, which aiogram counts as a network error)."""
    if isinstance(error, TelegramEntityTooLarge):
        return False
    return isinstance(error, TelegramRetryAfter | TelegramServerError | TelegramNetworkError)


def retry_wait(error: TelegramAPIError, backoff: float) -> float | None:
    """Seconds to wait before trying again, or None when the error is final."""
    if not is_transient(error):
        return None
    return float(error.retry_after) if isinstance(error, TelegramRetryAfter) else backoff


def describe(error: TelegramAPIError, token: str) -> str:
    """The error on one line: its class and Telegram's (or the HTTP client's) words."""
    if isinstance(error, TelegramRetryAfter):
        return f"flood control, retry after {error.retry_after} s"
    first_line = error.message.splitlines()[0] if error.message else ""
    return f"{type(error).__name__}: {first_line}".replace(token, "<token>")
