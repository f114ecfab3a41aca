"""Health for orchestrators: `/healthz` (the process answers) and `/readyz` (it serves: the
schema verified, the database reachable, the form storage up), as JSON, for Kubernetes probes
and load balancers. On HEALTH_PORT in polling mode; on the webhook's own server with a webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import ConfigError
from bot.storage import StorageHealth

# A readiness probe's database check waits this long at most.
DATABASE_CHECK_SECONDS = 2.0


@dataclass
class Readiness:
    """What /readyz reports; the startup and shutdown hooks move it along."""

    role: str  # "poller" (long polling) or "webhook"
    schema: str = "waiting"  # "at head" once migrated or verified
    stopping: bool = False

    async def schema_ready(self) -> None:
        self.schema = "at head"

    async def stop(self) -> None:
        """Shutdown hook (the first): a stopping instance takes no new traffic."""
        self.stopping = True


async def _database(engine: AsyncEngine) -> str:
    try:
        async with asyncio.timeout(DATABASE_CHECK_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as error:  # what a probe reports, in one word
        return f"unreachable ({type(error).__name__})"
    return "reachable"


def add_health_routes(
    app: web.Application,
    readiness: Readiness,
    engine: AsyncEngine,
    storage: StorageHealth | None,
) -> None:
    async def alive(_request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def ready(_request: web.Request) -> web.Response:
        database = await _database(engine)  # first: the rest may change while it runs
        report: dict[str, Any] = {
            "role": readiness.role,
            "schema": readiness.schema,
            "database": database,
            "stopping": readiness.stopping,
        }
        if storage is not None:
            report["storage"] = "up" if storage.available else "down"
        report["ready"] = (
            report["schema"] == "at head"
            and database == "reachable"
            and report.get("storage", "up") == "up"
            and not report["stopping"]
        )
        return web.json_response(report, status=200 if report["ready"] else 503)

    app.router.add_get("/healthz", alive)
    app.router.add_get("/readyz", ready)


@asynccontextmanager
async def health_server(
    host: str,
    port: int,
    readiness: Readiness,
    engine: AsyncEngine,
    storage: StorageHealth | None,
) -> AsyncIterator[None]:
    """/healthz and /readyz on host:port while the block runs (polling mode)."""
    app = web.Application()
    add_health_routes(app, readiness, engine, storage)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise ConfigError(
                f"cannot serve health checks on {host}:{port} ({error.strerror or error}); "
                "stop what uses that port or set another HEALTH_PORT"
            ) from None
        yield
    finally:
        await runner.cleanup()
