"""The bot's own HTTP servers (the webhook, health, payment callbacks) take their ports here:
a port that cannot be had is a configuration error that names the setting to change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.errors import ConfigError


async def listen(runner: web.AppRunner, host: str, port: int, *, what: str, setting: str) -> None:
    """Bind host:port for `runner` (`what` it serves, for the message)."""
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        raise ConfigError(
            f"cannot {what} on {host}:{port} ({error.strerror or error}); stop what uses that "
            f"port or set another {setting}"
        ) from None


@asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, *, what: str, setting: str
) -> AsyncIterator[None]:
    """`app` on host:port while the block runs."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await listen(runner, host, port, what=what, setting=setting)
        yield
    finally:
        await runner.cleanup()
