"""Reads from a hot-standby replica (DATABASE_READ_URL) while it keeps up with the primary.

Once a second the watch reads the primary's WAL position and the replica's replayed one, with
both schema versions. The replica serves an update's reads only while it is reachable, still a
standby, at the primary's schema and at most READ_REPLICA_MAX_LAG seconds behind; otherwise
reads fall back to the primary, logged once per change. What a user just did shows at once:
after an update of theirs wrote, their reads stay on the primary until the replica has
replayed a position the primary reached after that write.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from loguru import logger
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dao.database import reading, writing
from bot.dao.routing import Route
from bot.errors import UnreachableError
from bot.migration import MigrationOptions, verify
from bot.migration.connect import database_message, describe
from bot.migration.errors import SchemaBehindError
from bot.migration.revisions import VERSION_TABLE

CHECK_INTERVAL = 1.0
CHECK_TIMEOUT = 2.0
KEPT_CHECKS = 3600  # an hour of checks
CONNECT_TIMEOUT = 5.0  # at start: a replica down must not hold the bot back for long
_VERSIONS = f"(SELECT string_agg(version_num, ',' ORDER BY version_num) FROM {VERSION_TABLE})"
_PRIMARY_POSITION = text(
    f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, {_VERSIONS}"
)
_REPLICA_POSITION = text(
    "SELECT pg_is_in_recovery(), "
    f"pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint, {_VERSIONS}"
)


class Standing(StrEnum):
    """Where the replica stands; reads go to it only when it is `IN_STEP`."""

    UNCHECKED = "not checked yet"
    IN_STEP = "in step"
    UNREACHABLE = "unreachable"
    PROMOTED = "not a standby"
    OTHER_SCHEMA = "at another schema"
    LAGGING = "lagging"


@dataclass(frozen=True)
class ReplicaState:
    standing: Standing
    why: str  # what the log says
    lag: float | None = None  # seconds, when known

    @property
    def usable(self) -> bool:
        return self.standing is Standing.IN_STEP

    def as_json(self) -> dict[str, object]:
        reads = "replica" if self.usable else "primary"
        return {"reads": reads, "replica": self.standing.value, "lag": self.lag}


class ReplicaReads:
    """Which engine an update's reads may use: `engine_for(user)` is the replica or None."""

    def __init__(
        self,
        primary: AsyncEngine,
        replica: AsyncEngine,
        *,
        max_lag: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag = max_lag
        self._clock = clock
        self.where = describe(replica)
        # (when, the primary's position). Bounded for a replica away for long: dropping the
        # oldest only makes the answers more careful (a later, higher position to reach).
        self._samples: deque[tuple[float, int]] = deque(maxlen=KEPT_CHECKS)
        self._replayed = -1  # the replica's replayed position at the latest check
        self._wrote: dict[int, float] = {}  # user → when an update of theirs last wrote
        self.state = ReplicaState(Standing.UNCHECKED, "not checked yet")
        self._writer = writing(primary).sync_engine
        self._replica_reads = reading(replica).sync_engine  # no transaction on the standby
        self._task: asyncio.Task[None] | None = None

    def engine_for(self, user_id: int | None) -> AsyncEngine | None:
        if not self.state.usable:
            return None
        wrote = None if user_id is None else self._wrote.get(user_id)
        if wrote is not None and not self._replayed_since(wrote):
            return None
        return self.replica

    def route(self, user_id: int | None) -> Route:
        """Where the statements of an update of this user's go (see `bot.dao.routing`)."""
        replica = self.engine_for(user_id)
        if replica is None:  # one connection of the primary's pool for the whole update
            return Route(self._writer, self._writer)
        return Route(self._writer, self._replica_reads, latest=self._writer)

    def wrote(self, user_id: int) -> None:
        """An update of this user's has written to the primary (and committed)."""
        self._wrote[user_id] = self._clock()

    def _replayed_since(self, moment: float) -> bool:
        """The replica has replayed what the primary held at a check made after `moment`."""
        for when, position in self._samples:
            if when >= moment:
                return self._replayed >= position
        return False

    async def check(self) -> ReplicaState:
        """One look at both servers; logs a change of where reads go."""
        when = self._clock()  # before asking: the position read holds every earlier commit
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                position, primary_versions = await _one_row(self.primary, _PRIMARY_POSITION)
        except Exception as error:  # the primary's own troubles are not the replica's
            logger.debug("replica watch: the primary did not answer ({})", type(error).__name__)
            return self.state
        self._samples.append((when, int(position)))
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                standby, replayed, versions = await _one_row(self.replica, _REPLICA_POSITION)
        except Exception as error:
            why = f"unreachable ({_described(error)})"
            return self._settle(ReplicaState(Standing.UNREACHABLE, why))
        if not standby:
            why = "not a hot standby (pg_is_in_recovery() is false: promoted?)"
            return self._settle(ReplicaState(Standing.PROMOTED, why))
        self._replayed = int(replayed)
        self._forget_replayed()
        lag = self._lag()
        if versions != primary_versions:
            why = f"at schema {versions or 'none'}, the primary at {primary_versions or 'none'}"
            return self._settle(ReplicaState(Standing.OTHER_SCHEMA, why, lag))
        if lag > self.max_lag:
            why = f"{lag:.1f}s behind, more than READ_REPLICA_MAX_LAG={self.max_lag:g}s"
            return self._settle(ReplicaState(Standing.LAGGING, why, lag))
        return self._settle(ReplicaState(Standing.IN_STEP, f"{lag:.1f}s behind", lag))

    def _lag(self) -> float:
        """Seconds since the oldest check whose primary position the replica has not reached."""
        for when, position in self._samples:
            if position > self._replayed:
                return self._clock() - when
        return 0.0

    def _forget_replayed(self) -> None:
        """Keep the newest replayed check and those after it (what `_lag` and
        `_replayed_since` read), and only the writers not yet replayed."""
        while len(self._samples) > 1 and self._samples[1][1] <= self._replayed:
            self._samples.popleft()
        self._wrote = {
            user: moment for user, moment in self._wrote.items() if not self._replayed_since(moment)
        }

    def _settle(self, state: ReplicaState) -> ReplicaState:
        previous, self.state = self.state, state
        if state.standing is previous.standing:
            return state
        if state.usable:
            logger.info("reads go to the replica {} ({})", self.where, state.why)
        else:
            logger.warning(
                "reads fall back to the primary: the replica {} is {}", self.where, state.why
            )
        return state

    async def watch(self, interval: float = CHECK_INTERVAL) -> None:
        while True:
            await self.check()
            await asyncio.sleep(interval)

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self.watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


async def _one_row(engine: AsyncEngine, statement: TextClause) -> tuple[Any, ...]:
    async with engine.connect() as conn:
        return tuple((await conn.execute(statement)).one())


def _described(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g}s"
    return database_message(error)


async def verify_replica(reads: ReplicaReads, options: MigrationOptions) -> None:
    """At start, wait (up to SCHEMA_WAIT_TIMEOUT) for the replica to replay the schema's head.
    One that is down or stays behind does not stop the bot: reads stay on the primary until
    the watch finds the replica in step."""
    patience = replace(options, connect_timeout=min(options.connect_timeout, CONNECT_TIMEOUT))
    try:
        await verify(reads.replica, patience, for_writes=False)
    except (UnreachableError, SchemaBehindError) as error:
        logger.warning("reads stay on the primary for now: the replica {}: {}", reads.where, error)
