"""What a migration tells as it runs: each revision applied with its duration, a heartbeat
while one takes long, and the one line that sums up the whole."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic.runtime.migration import MigrationContext, MigrationInfo
from loguru import logger
from sqlalchemy import event
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


# The running revision is named to the waiters (the lock's `announce`: a round trip on
# PostgreSQL) before its first statement, but for statements that make a new table or keep
# alembic's version: those are quick, and wait for the name while the last one is less than
# ANNOUNCE_EVERY seconds old. A round trip for each of 1,000 small revisions made the
# embedded upgrade slower than alembic's CLI.
ANNOUNCE_EVERY = 1.0
_QUICK = re.compile(
    r"\s*(?:CREATE TABLE|(?:UPDATE|INSERT INTO|DELETE FROM) alembic_version)\b", re.IGNORECASE
)


@dataclass
class Progress:
    """Follows alembic through the pending revisions: which one runs and since when (for the
    heartbeat and for the waiters, through the lock), and what was applied, with durations.
    Called by alembic's on_version_apply inside each revision's transaction, as it ends, and
    (`watching`) before each statement the migration connection runs."""

    pending: tuple[str, ...]
    descriptions: dict[str, str]
    announce: Callable[[Connection, str, str], None]
    applied: list[AppliedRevision] = field(default_factory=list)
    running: str | None = None
    since: float = field(default_factory=time.monotonic)
    unannounced: str | None = None
    announced_at: float = float("-inf")

    def start_next(self) -> None:
        done = {applied.revision for applied in self.applied}
        upcoming = [revision for revision in self.pending if revision not in done]
        self.since = time.monotonic()
        self.running = self.unannounced = upcoming[0] if upcoming else None
        if self.running is not None:
            logger.debug("applying revision {} ({})", self.running, self.describe(self.running))

    @contextmanager
    def watching(self, sync_conn: Connection) -> Iterator[None]:
        """Name each revision before its statements on `sync_conn`, as ANNOUNCE_EVERY says."""
        event.listen(sync_conn, "before_cursor_execute", self._before_statement)
        try:
            yield
        finally:
            event.remove(sync_conn, "before_cursor_execute", self._before_statement)

    def _before_statement(
        self, sync_conn: Connection, _cursor: Any, statement: str, *_: Any
    ) -> None:
        revision = self.unannounced
        if revision is None:
            return
        if _QUICK.match(statement) and time.monotonic() - self.announced_at < ANNOUNCE_EVERY:
            return
        self.unannounced, self.announced_at = None, time.monotonic()
        self.announce(sync_conn, revision, self.describe(revision))

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
        self.start_next()

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
