"""What a migration tells as it runs: each revision applied with its duration, a heartbeat
while one takes long, and the one line that sums up the whole."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic.runtime.migration import MigrationContext, MigrationInfo
from loguru import logger
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class AppliedRevision:
    revision: str
    description: str
    seconds: float


@dataclass(frozen=True)
class MigrationReport:
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    applied: tuple[AppliedRevision, ...] = ()
    lock_wait: float = 0.0
    seconds: float = 0.0
    unknown: tuple[str, ...] = ()

    def summary(self) -> str:
        before = ", ".join(self.from_revisions) or "empty"
        after = ", ".join(self.to_revisions) or "empty"
        if self.unknown:
            return (
                f"database at {after}, a revision this code does not know; nothing applied, "
                f"serving as it is because ALLOW_UNKNOWN_REVISION=true ({self.seconds:.3f}s)"
            )
        if not self.applied:
            return f"schema already at head {after}; nothing to apply ({self.seconds:.3f}s)"
        return (
            f"schema migrated {before} -> {after}: {len(self.applied)} revision(s) in "
            f"{self.seconds:.3f}s (waited {self.lock_wait:.3f}s for the lock)"
        )


@dataclass
class Progress:
    """Follows alembic through the pending revisions: which one runs and since when (for the
    heartbeat and for the waiters, through the lock), and what was applied, with durations.
    Called by alembic's on_version_apply inside each revision's transaction, as it ends."""

    pending: tuple[str, ...]
    descriptions: dict[str, str]
    announce: Callable[[Connection, str, str], None]
    applied: list[AppliedRevision] = field(default_factory=list)
    running: str | None = None
    since: float = field(default_factory=time.monotonic)

    def start_next(self, sync_conn: Connection) -> None:
        done = {applied.revision for applied in self.applied}
        upcoming = [revision for revision in self.pending if revision not in done]
        self.since = time.monotonic()
        self.running = upcoming[0] if upcoming else None
        if self.running is not None:
            logger.debug("applying revision {} ({})", self.running, self.describe(self.running))
            self.announce(sync_conn, self.running, self.describe(self.running))

    def describe(self, revision: str) -> str:
        return self.descriptions.get(revision, "")

    def __call__(self, *, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
        revision = step.up_revision_id or "base"
        applied = AppliedRevision(revision, self.describe(revision), time.monotonic() - self.since)
        self.applied.append(applied)
        logger.info(
            "applied revision {} ({}) in {:.3f}s",
            applied.revision,
            applied.description,
            applied.seconds,
        )
        assert ctx.connection is not None  # online: offline runs have no progress to follow
        self.start_next(ctx.connection)

    async def heartbeat(self, every: float) -> None:
        """Log, every `every` seconds, the revision that is still running."""
        while True:
            await asyncio.sleep(every)
            if self.running is not None:
                logger.info(
                    "still applying revision {} ({}): {:.0f}s so far, {} of {} revision(s) done",
                    self.running,
                    self.describe(self.running),
                    time.monotonic() - self.since,
                    len(self.applied),
                    len(self.pending),
                )


@asynccontextmanager
async def beating(progress: Progress, every: float) -> AsyncIterator[None]:
    """The heartbeat of `progress`, for as long as the block runs."""
    task = asyncio.create_task(progress.heartbeat(every))
    try:
        yield
    finally:
        task.cancel()


def finish(report: MigrationReport, started: float) -> MigrationReport:
    """The report with the seconds since `started`, its summary logged."""
    finished = dataclasses.replace(report, seconds=time.monotonic() - started)
    logger.info(finished.summary())
    return finished
