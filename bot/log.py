"""loguru for everything: stdlib loggers are routed into it, and secrets are masked at the sink."""

from __future__ import annotations

import inspect
import json
import logging
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

MASK = "***"
_ROUTED_LOGGERS = ("alembic", "sqlalchemy", "aiogram", "aiohttp", "asyncio")
_TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan> - <level>{message}</level>"
)


class InterceptHandler(logging.Handler):
    """Hands stdlib log records to loguru under the stdlib logger's name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.patch(lambda entry: entry.update({"name": record.name})).opt(
            depth=depth, exception=record.exc_info
        ).log(level, record.getMessage())


class _AlembicChatter(logging.Filter):
    """alembic says which dialect it uses each time a migration context is configured (a few
    times per start): worth a line at DEBUG, not at every INFO start."""

    _CHATTER = ("Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.getMessage().startswith(self._CHATTER):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class SecretMasker:
    """Replaces every known secret in a piece of text; secrets can be added at any time."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(secret for secret in secrets if len(secret) >= 4)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


masker = SecretMasker()


def _text_sink(message: Message) -> None:
    sys.stderr.write(masker(str(message)))


def _json_sink(message: Message) -> None:
    record = message.record
    payload = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
    }
    if record["exception"] is not None:
        payload["exception"] = str(message).split("\n", 1)[-1]
    sys.stderr.write(masker(json.dumps(payload, ensure_ascii=False)) + "\n")


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure loguru once per process; stdlib loggers propagate into it."""
    masker.add(secrets)
    logger.remove()
    if fmt == "json":
        logger.add(_json_sink, level=level, format="{message}", backtrace=False, diagnose=False)
    else:
        logger.add(
            _text_sink,
            level=level,
            format=_TEXT_FORMAT,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,
        )
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers = []
        routed.propagate = True
    migration_logger = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _AlembicChatter) for f in migration_logger.filters):
        migration_logger.addFilter(_AlembicChatter())
    # alembic logs each command-line error and prints it as `FAILED: ...`: one is enough.
    logging.getLogger("alembic.util.messaging").setLevel(logging.CRITICAL)
    # SQLAlchemy's engine logger echoes every statement at INFO; keep it for DEBUG runs.
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if level in ("TRACE", "DEBUG") else logging.WARNING
    )
