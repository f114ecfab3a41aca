"""Several migrators at once, as real processes on one database: one migrates, the others wait
for the lock and then find the schema at head; a person's `alembic upgrade head` takes the same
lock; a waiter gives up cleanly (lock timeout, SIGTERM); a migrator killed half-way leaves a
valid revision and no lock behind.

The test-only counter revisions stop at gates (tests/migrations_testonly/steps.py), so every
overlap here is arranged, not hoped for: no sleeps, no timing.
"""

from __future__ import annotations

import fcntl
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest

from bot.migration.locks import LOCK_NAMESPACE, advisory_key, lock_file_for
from bot.migration.revisions import VERSION_TABLE
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.scenarios import (
    COUNTER,
    Gates,
    applied_prefix,
    at_gate,
    migrating,
    real_head,
    scenario,
    version,
)
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import (
    ALEMBIC,
    BotProcess,
    bot_env,
    run_main,
    write_alembic_ini,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

INSTANCES = 8
LOCK_WAIT = "waiting for the migration lock"


def _holder(pid: int, role: str = "shopbot-migrator") -> str:
    """How a waiter names the migrator process `pid` that holds the lock (followed by its
    host, or, while a revision runs, by what it is applying)."""
    return f"{role} pid={pid} "


def _lock_is_free(database: ThrowawayDatabase) -> bool:
    if database.backend == "postgresql":
        held = fetch_all(
            database,
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.classid = :ns AND l.objid = :key "
            "AND d.datname = current_database()",
            ns=LOCK_NAMESPACE,
            key=advisory_key(VERSION_TABLE),
        )
        return held == [(0,)]
    assert database.path is not None
    with lock_file_for(database.path).open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True  # closing the file lets go of it


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if "| ERROR" in line]


def test_eight_instances_at_once_apply_each_revision_once(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    gates = Gates(tmp_path / "gates")
    versions = scenario("counter", into=tmp_path)
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions), **gates.env)
    instances = [BotProcess(["--migrate-only"], env, tmp_path) for _ in range(INSTANCES)]
    with ExitStack() as running:
        for instance in instances:
            running.enter_context(instance)
        # One holds the lock at the first gate; all seven others must be queued behind it.
        [winner] = eventually(
            lambda: [i for i in instances if at_gate(COUNTER[0]) in i.output],
            lambda at: len(at) == 1,
            timeout=90,
        )
        eventually(
            lambda: [i for i in instances if LOCK_WAIT in i.output],
            lambda waiting: len(waiting) == INSTANCES - 1,
            timeout=90,
        )
        gates.open(*COUNTER)
        codes = [instance.wait(90) for instance in instances]

    logs = "\n".join(instance.output for instance in instances)
    assert codes == [0] * INSTANCES, logs
    assert "Traceback" not in logs
    assert version(database) == [COUNTER[-1]]
    assert applied_prefix(database, COUNTER) == COUNTER  # each counter revision ran once
    assert logs.count(f"applied revision {real_head()} ") == 1
    assert [i for i in instances if "migrating:" in i.output] == [winner]
    for waiter in (i for i in instances if i is not winner):
        assert _holder(winner.pid) in waiter.output
        assert "nothing to apply" in waiter.output  # re-read under the lock: at head


@pytest.mark.parametrize("first", ["alembic", "bot"])
def test_alembic_cli_and_a_starting_bot_take_turns(
    database: ThrowawayDatabase, tmp_path: Path, first: str
) -> None:
    gates = Gates(tmp_path / "gates")
    versions = scenario("counter", into=tmp_path)
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions), **gates.env)
    ini = write_alembic_ini(tmp_path / "alembic-testonly.ini", versions)
    cli = BotProcess(["-c", str(ini), "upgrade", "head"], env, tmp_path, program=[str(ALEMBIC)])
    bot = BotProcess(["--migrate-only"], env, tmp_path)
    leader, follower = (cli, bot) if first == "alembic" else (bot, cli)
    with ExitStack() as running:
        running.enter_context(leader)
        leader.wait_for_output(at_gate(COUNTER[0]))
        running.enter_context(follower)
        follower.wait_for_output(LOCK_WAIT)
        gates.open(*COUNTER)
        assert leader.wait() == 0, leader.output
        assert follower.wait() == 0, follower.output

    assert applied_prefix(database, COUNTER) == COUNTER
    role = "shopbot-alembic-cli" if first == "alembic" else "shopbot-migrator"
    assert _holder(leader.pid, role) in follower.output
    assert at_gate(COUNTER[0]) not in follower.output  # it ran no revision
    assert "Traceback" not in leader.output + follower.output


def test_waiters_give_up_cleanly_on_lock_timeout_and_sigterm(
    database: ThrowawayDatabase, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    with migrating(database, tmp_path) as holder:
        # A bot (aiogram owns SIGTERM during its start-up), to be stopped while it waits.
        settings = holder.env(database, api_url=fake_api.url)
        with BotProcess([], settings, tmp_path) as stopped:
            impatient = run_main(
                ["--migrate-only"], holder.env(database, MIGRATION_LOCK_TIMEOUT="1"), tmp_path
            )
            stopped.wait_for_output(LOCK_WAIT)
            assert stopped.stop(signal.SIGTERM) == 128 + signal.SIGTERM, stopped.output
        assert version(database) == [real_head()]  # neither changed anything
        holder.finish(database)

    assert impatient.returncode == 4, impatient.stderr
    [line] = _errors(impatient.stderr)
    assert "could not take the migration lock" in line
    assert _holder(holder.process.pid) in line
    # The holder said what it was doing: the revision that waits at its gate.
    assert f"applying {COUNTER[0]}" in line
    if database.backend == "postgresql":
        assert "its revision running for " in line
    else:
        assert f"applying {COUNTER[0]} (testonly counter 1: " in line
        assert " since " in line
    assert "MIGRATION_LOCK_TIMEOUT" in line
    [line] = _errors(stopped.output)
    assert "stopped by SIGTERM while waiting for the migration lock; nothing was changed" in line
    for output in (impatient.stderr, stopped.output):
        assert "migrating:" not in output
        assert "Traceback" not in output
    assert fake_api.calls_of("getUpdates") == []


def test_sigkill_mid_upgrade_leaves_a_valid_revision_and_no_lock(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    gates = Gates(tmp_path / "gates")
    gates.open(COUNTER[0])
    versions = scenario("counter", into=tmp_path)
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions))
    with BotProcess(["--migrate-only"], {**env, **gates.env}, tmp_path) as killed:
        killed.wait_for_output(at_gate(COUNTER[1]))  # count2's changes are made, not committed
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL

    eventually(lambda: _lock_is_free(database), bool)
    assert applied_prefix(database, COUNTER) == COUNTER[:1]

    restarted = run_main(["--migrate-only"], env, tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert applied_prefix(database, COUNTER) == COUNTER
