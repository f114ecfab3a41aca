"""The FSM storage when it lives in Redis: checked at start, watched while serving.

At start Redis must answer within DB_CONNECT_TIMEOUT (transient failures are retried like the
database's), or the bot exits 3. While serving, a lost Redis is logged once when it goes and
once when it comes back; meanwhile each update gets one warning line instead of a traceback,
and `StorageHealth.available` says whether the bot can serve (for a readiness probe).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import ErrorEvent
from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import ConfigError, StartupError, UnreachableError
from bot.migration.waiting import Backoff, wait_until

# What aiogram's RedisStorage raises while Redis is down or restarting.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)
PROBE_INTERVAL = 1.0
_SOCKET_TIMEOUT = 5.0
_BACKOFF = Backoff(first=0.2, cap=2.0)


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

    def lost(self, error: BaseException) -> None:
        if self.available:
            self.available = False
            logger.error(
                "lost Redis at {} ({}); updates are not handled until it is back, retrying "
                "every {:g}s",
                self.where,
                _reason(error),
                PROBE_INTERVAL,
            )

    def back(self) -> None:
        if not self.available:
            self.available = True
            logger.warning("Redis at {} is back; handling updates again", self.where)


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


async def update_without_storage(event: ErrorEvent, storage_health: StorageHealth) -> None:
    """An error handler: an update that met Redis down gets one line, not a traceback."""
    storage_health.lost(event.exception)
    logger.warning(
        "update {} not handled: Redis at {} is unavailable ({})",
        event.update.update_id,
        storage_health.where,
        _reason(event.exception),
    )
