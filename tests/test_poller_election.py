"""Several `python main.py` on one database and one fake Bot API (which answers overlapping
getUpdates with 409, as Telegram does): exactly one polls, the others stand by and say who
polls; SIGKILL or SIGTERM the poller and a standby takes over, handling what was queued
meanwhile; every update is answered exactly once and no instance ever meets a 409."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import BotProcess, bot_env, free_port, get_json, run_main
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

POLLING = "this instance is the poller now"
TAKEOVER_SECONDS = 15.0  # generous: the takeover itself takes about a second


class Instance:
    def __init__(self, database: ThrowawayDatabase, fake: FakeBotAPI, tmp_path: Path) -> None:
        self.port = free_port()
        env = bot_env(
            database, api_url=fake.url, HEALTH_PORT=str(self.port), HEALTH_HOST="127.0.0.1"
        )
        self.process = BotProcess([], env, tmp_path)

    @property
    def polls(self) -> bool:
        return POLLING in self.process.output

    def readyz(self) -> tuple[int, dict[str, Any]]:
        return get_json(self.port, "/readyz")


@pytest.fixture
def instances(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> Iterator[list[Instance]]:
    # Migrated first, so that the instances' start-up is the same whichever starts first.
    env = bot_env(database)
    assert run_main(["--migrate-only"], env, tmp_path).returncode == 0
    made = [Instance(database, fake_api, tmp_path) for _ in range(4)]
    try:
        yield made
    finally:
        for instance in made:
            instance.process.__exit__(None, None, None)  # killed if still running


def _only_poller(running: list[Instance]) -> Instance:
    [poller] = eventually(
        lambda: [i for i in running if i.polls], lambda found: len(found) == 1, timeout=60
    )
    return poller


def _answered_once(fake: FakeBotAPI, users: range) -> None:
    """Each user's /start got its one answer, and no more."""
    eventually(
        lambda: {user: len(fake.messages_in(user)) for user in users},
        lambda counts: all(count >= 1 for count in counts.values()),
        timeout=TAKEOVER_SECONDS,
    )
    assert {user: len(fake.messages_in(user)) for user in users} == dict.fromkeys(users, 1)


def test_one_polls_and_a_standby_takes_over_on_sigkill_and_sigterm(
    instances: list[Instance], fake_api: FakeBotAPI
) -> None:
    first, second, *later = instances
    for instance in (first, second):
        instance.process.start()
    poller = _only_poller([first, second])
    standby = second if poller is first else first
    standby.process.wait_for_output(f"shopbot-poller pid={poller.process.pid} ")
    # A standby is ready: it takes over by itself.
    _, report = eventually(lambda: standby.readyz(), lambda got: got[0] == 200)
    assert (report["role"], report["ready"]) == ("standby", True)
    assert poller.readyz()[1]["role"] == "poller"
    for user in range(1, 4):
        fake_api.send_text(user, "/start")
    _answered_once(fake_api, range(1, 4))
    # The poller always has a long poll pending: any getUpdates from the standby would have
    # ended it with a 409.
    assert fake_api.conflicts == []

    # The poller dies: what arrives meanwhile waits for the standby, which takes over.
    assert poller.process.stop(signal.SIGKILL) == -signal.SIGKILL
    for user in range(4, 7):
        fake_api.send_text(user, "/start")
    standby.process.wait_for_output(POLLING, timeout=TAKEOVER_SECONDS)
    _answered_once(fake_api, range(4, 7))

    # Two new standbys; the poller is stopped: it lets go at once and one of them takes over.
    poller = standby
    for instance in later:
        instance.process.start()
    for instance in later:
        instance.process.wait_for_output(f"shopbot-poller pid={poller.process.pid} ")
    assert poller.process.stop(signal.SIGTERM) == 0
    assert "let go of the poller lock" in poller.process.output
    for user in range(7, 10):
        fake_api.send_text(user, "/start")
    poller = _only_poller(later)
    _answered_once(fake_api, range(1, 10))
    assert fake_api.pending_updates == []

    # A standby stops at once, like a poller; the poller goes on.
    [standby] = [instance for instance in later if instance is not poller]
    assert standby.process.stop(signal.SIGTERM) == 0
    assert POLLING not in standby.process.output
    assert poller.process.poll() is None
    assert poller.process.stop(signal.SIGTERM) == 0

    logs = "".join(instance.process.output for instance in instances)
    assert "Conflict" not in logs  # no instance ever met a 409
    assert [c for c in fake_api.conflicts if c.client_connected] == []
    assert "Traceback" not in logs
