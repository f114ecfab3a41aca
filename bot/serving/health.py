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

from bot.serving.listening import serving
from bot.serving.replica import ReplicaReads
from bot.serving.storage import StorageHealth

# A readiness probe's database check waits this long at most.
DATABASE_CHECK_SECONDS = 2.0
SCHEMA_WAITING = "waiting"
SCHEMA_AT_HEAD = "at head"


@dataclass
class Readiness:
    """What /readyz reports; the startup and shutdown hooks move it along."""

    # "poller" (long polling), "standby" (polling mode, another instance polls) or "webhook".
    # A standby is ready (200): it is healthy and takes over when the poller goes, and an
    # orchestrator that counts unready instances must not stall a rollout on it.
    role: str
    schema: str = SCHEMA_WAITING  # SCHEMA_AT_HEAD once migrated or verified, else why not
    stopping: bool = False
    # DATABASE_READ_URL's replica: where reads go and why, reported (it never makes an
    # instance unready: reads fall back to the primary).
    replica: ReplicaReads | None = None

    @property
    def schema_at_head(self) -> bool:
        return self.schema == SCHEMA_AT_HEAD

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
        if readiness.replica is not None:
            report["reads"] = readiness.replica.state.as_json()
        report["ready"] = (
            report["schema"] == SCHEMA_AT_HEAD
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
    async with serving(app, host, port, what="serve health checks", setting="HEALTH_PORT"):
        yield
