"""A throwaway PostgreSQL primary with a real hot-standby replica (tests/scripts/pg_replica.sh),
and fresh databases on it that the test sees through both servers."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from bot.serving.replica import ReplicaReads
from tests.support.databases import ThrowawayDatabase, execute
from tests.support.processes import PROJECT_ROOT, free_port
from tests.support.waiting import eventually

SCRIPT = PROJECT_ROOT / "tests" / "scripts" / "pg_replica.sh"
PASSWORD_ROLE = "shopbot_password"  # the one role pg_replica.sh makes give a password
PASSWORD = "right-Pa55word"
_SERVER_BINARIES = Path("/usr/lib/postgresql")


def server_binaries_missing() -> str | None:
    """Why the pair cannot be made here, or None."""
    if not (any(_SERVER_BINARIES.glob("*/bin/initdb")) or shutil.which("initdb")):
        return "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)"
    return None


@dataclass(frozen=True)
class Database:
    """One database of the pair, as the primary and as the replica serve it."""

    primary: ThrowawayDatabase
    replica: ThrowawayDatabase


@dataclass(frozen=True)
class ReplicaPair:
    primary_port: int
    replica_port: int
    directory: str

    def url(self, port: int, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+asyncpg", username="postgres", host="127.0.0.1", port=port,
            database=database,
        )  # fmt: skip

    def execute(self, statement: str) -> None:
        """Run one statement on the primary's `postgres` database."""
        execute(self.url(self.primary_port), statement)

    @contextmanager
    def primary_stopped(self) -> Iterator[None]:
        """The primary shut down (connections dropped, as in a restart) until the block ends."""
        _script("stop", self.directory, "primary")
        try:
            yield
        finally:
            _script("start", self.directory, "primary")

    @contextmanager
    def replica_stopped(self) -> Iterator[None]:
        """The replica shut down until the block ends; then it streams again."""
        _script("stop", self.directory, "replica")
        try:
            yield
        finally:
            _script("start", self.directory, "replica")

    @contextmanager
    def database(self) -> Iterator[Database]:
        """A fresh database, created on the primary, once the replica has replayed it."""
        name = f"shopbot_replica_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        try:
            replica = self.url(self.replica_port, name)
            eventually(lambda: _reachable(replica), bool, timeout=30)
            yield Database(
                ThrowawayDatabase("postgresql", self.url(self.primary_port, name)),
                ThrowawayDatabase("postgresql", replica),
            )
        finally:
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def in_step(reads: ReplicaReads) -> None:
    """Until the watch finds the replica has replayed all the primary held at its latest
    check (as the bot's watch would, once a second)."""
    for _ in range(600):
        state = await reads.check()
        if state.usable and state.lag == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the replica never caught up: {reads.state}")


def _reachable(url: URL) -> bool:
    try:
        execute(url, "SELECT 1")
    except (OSError, asyncpg.PostgresError):
        return False
    return True


def _script(*args: str) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg_replica.sh {args[0]} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@contextmanager
def replica_pair() -> Iterator[ReplicaPair]:
    """Start the pair; stop it and remove its files afterwards, whatever happened."""
    primary_port, replica_port = free_port(), free_port()
    directory = _script("up", str(primary_port), str(replica_port)).strip().splitlines()[-1]
    try:
        yield ReplicaPair(primary_port, replica_port, directory)
    finally:
        subprocess.run([str(SCRIPT), "down", directory], timeout=60, check=False)
