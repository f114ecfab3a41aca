"""The FSM storage when it lives in Redis: checked at start, watched while serving.

At start Redis must answer within DB_CONNECT_TIMEOUT (transient failures are retried like the
database's), or the bot exits 3. While serving, a lost Redis is logged once when it goes and
once when it comes back (with how many updates met it down), and `StorageHealth.available`
says whether the bot can serve (for a readiness probe). An update that meets it down cannot
be handled (aiogram reads the form state first), and its user is told so, once, in their
language. Polling cannot keep the update (Telegram has let it go): the user is asked to try
again in a minute. A webhook answers it 503 (`StorageUnavailable`), so Telegram delivers it
again until Redis is back; the user is told it will be answered then. A pre-checkout is
refused with the try-again line (Telegram waits only 10 s for it); payments are taken all the
same (bot.payments.outcomes.take_payment).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import ErrorEvent, Update, User
from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.config import Settings
from bot.errors import ConfigError, StartupError, UnreachableError
from bot.i18n import __, default_language, speaking
from bot.i18n.languages import language_for
from bot.middlewares.languages import LanguageCache
from bot.migration.waiting import Backoff, wait_until

# What aiogram's RedisStorage raises while Redis is down or restarting.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
PROBE_INTERVAL = 1.0
_SOCKET_TIMEOUT = 5.0
_BACKOFF = Backoff(first=0.2, cap=2.0)

# What the user of an update that met Redis down is told (lazy: in their language when used).
TRY_AGAIN = __("The shop is briefly unavailable, please try again in a minute.")
ANSWERED_LATER = __(
    "The shop is briefly unavailable; it will answer you here as soon as it is back."
)


class StorageUnavailable(Exception):
    """Raised out of the dispatcher in webhook mode for an update that met Redis down: the
    webhook answers 503, and Telegram delivers the update again later."""


def describe(url: str) -> str:
    """Where Redis is, without the password, for messages."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def redis_storage(url: str) -> RedisStorage:
    """aiogram's RedisStorage with bounded socket waits (a host that drops packets must not
    hang an update) and one immediate retry (the first command after a Redis restart meets a
    closed pooled connection). Keys carry the bot's id, so bots can share one Redis."""
    return RedisStorage.from_url(
        url,
        connection_kwargs={
            "socket_connect_timeout": _SOCKET_TIMEOUT,
            "socket_timeout": _SOCKET_TIMEOUT,
            "retry": Retry(NoBackoff(), 1),
        },
        key_builder=DefaultKeyBuilder(with_bot_id=True),
    )


@dataclass
class StorageHealth:
    """Whether the FSM storage answers; each change is logged once."""

    where: str
    available: bool = True
    # Updates that met it down since it went; of those, the ones whose user was told (a
    # webhook's update comes again: its user is told once).
    refused: int = 0
    told: set[int] = field(default_factory=set)

    def lost(self, error: BaseException) -> None:
        if self.available:
            self.available = False
            logger.error(
                "lost Redis at {} ({}); updates cannot be handled until it is back (their "
                "users are told), retrying every {:g}s",
                self.where,
                _reason(error),
                PROBE_INTERVAL,
            )

    def back(self) -> None:
        if not self.available:
            self.available = True
            logger.warning(
                "Redis at {} is back; handling updates again ({} met it down meanwhile)",
                self.where,
                self.refused,
            )
            self.refused = 0
            self.told.clear()

    def first_refusal(self, update_id: int) -> bool:
        """Count an update that met it down; True the first time this update does."""
        self.refused += 1
        if update_id in self.told:
            return False
        self.told.add(update_id)
        return True


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


async def wait_for_redis(redis: Redis, where: str, timeout: float) -> None:
    """Return once Redis answers PING; retry outages until `timeout` seconds have passed
    (exit 3), refuse at once what retrying cannot fix (exit 2)."""
    attempts = 0
    last_reason = ""
    started = time.monotonic()

    async def attempt() -> bool | None:
        nonlocal attempts, last_reason
        attempts += 1
        try:
            async with asyncio.timeout(max(timeout - (time.monotonic() - started), 1.0)):
                return bool(await redis.ping())
        except (AuthenticationError, AuthorizationError, ResponseError) as error:
            raise ConfigError(
                f"Redis at {where} refused us: {_reason(error)}; check REDIS_URL"
            ) from None
        except (RedisError, OSError) as error:  # TimeoutError is an OSError
            last_reason = _reason(error)
        return None

    async def report(waited: float) -> None:
        logger.warning(
            "Redis at {} not reachable yet ({}); retrying for up to DB_CONNECT_TIMEOUT={:g}s, "
            "{:.0f}s so far",
            where,
            last_reason,
            timeout,
            waited,
        )

    async def expired(waited: float) -> StartupError:
        return UnreachableError(
            f"Redis at {where} is unreachable after {attempts} attempts in {waited:.0f}s "
            f"({last_reason}); is it running? Check REDIS_URL; the wait is DB_CONNECT_TIMEOUT "
            "seconds"
        )

    await wait_until(
        attempt,
        waiting_for="Redis to answer",
        timeout=timeout,
        backoff=_BACKOFF,
        report=report,
        expired=expired,
    )


async def watch_redis(redis: Redis, health: StorageHealth) -> None:
    """Ping Redis every PROBE_INTERVAL seconds for as long as the bot serves."""
    while True:
        try:
            async with asyncio.timeout(_SOCKET_TIMEOUT):
                await redis.ping()
        except (RedisError, OSError) as error:
            health.lost(error)
        else:
            health.back()
        await asyncio.sleep(PROBE_INTERVAL)


async def update_without_storage(
    event: ErrorEvent,
    storage_health: StorageHealth,
    settings: Settings,
    bot: Bot,
    languages: LanguageCache,
    event_from_user: User | None = None,
) -> None:
    """An error handler for an update that met Redis down: its user is told once, in their
    language, and in webhook mode it is answered 503 (`StorageUnavailable`) so Telegram
    delivers it again. The log has the outage's two lines (`lost`, `back`), not one per
    update."""
    storage_health.lost(event.exception)
    update = event.update
    webhook = settings.webhook_endpoint is not None
    redelivered = webhook and update.pre_checkout_query is None
    logger.debug(
        "update {} met Redis at {} down ({}); {}",
        update.update_id,
        storage_health.where,
        _reason(event.exception),
        "answered 503 for Telegram to deliver again" if redelivered else "not handled",
    )
    if storage_health.first_refusal(update.update_id) and event_from_user is not None:
        # Recent users' language, else their client's: the database is not asked here, so
        # the line goes at once whatever else is slow.
        cached = languages.get(event_from_user.id)
        language = cached or language_for(event_from_user.language_code, default_language())
        with speaking(language):
            text = str(ANSWERED_LATER if redelivered else TRY_AGAIN)
        await _tell(bot, update, text)
    if redelivered:
        raise StorageUnavailable(f"update {update.update_id}: Redis is unavailable")


async def _tell(bot: Bot, update: Update, text: str) -> None:
    """Refuse a pre-checkout with `text`, or send it to the private chat of a message or a
    button; nothing else (a group, a member change) is answered."""
    pressed = update.callback_query
    message = update.message or (pressed.message if pressed is not None else None)
    try:
        if update.pre_checkout_query is not None:
            await bot.answer_pre_checkout_query(
                update.pre_checkout_query.id, ok=False, error_message=text
            )
        elif message is not None and message.chat.type == "private":
            await bot.send_message(message.chat.id, text)
    except TelegramAPIError as error:  # Telegram down as well: nothing more to do
        logger.debug("could not tell update {}'s user: {}", update.update_id, error)
