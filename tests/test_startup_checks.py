"""Start-up checks through the real process: what the bot depends on is checked before it
serves, each fault is exactly one ERROR line with its exit code (never a traceback, never the
token), and Redis lost while serving is logged once each way and survived."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.serving.storage import TRY_AGAIN
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.scenarios import COUNTER, migrating
from tests.support.databases import ThrowawayDatabase, fetch_all, sqlite_database
from tests.support.processes import (
    TEST_TOKEN,
    BotProcess,
    bot_env,
    clean_env,
    free_port,
    run_main,
)
from tests.support.redis import ThrowawayRedis

USER_ID = 4242001


def assert_one_error_line(output: str, expected: str) -> None:
    """Exactly one ERROR line, saying `expected`; no traceback, no token."""
    errors = [line for line in output.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and expected in errors[0], output
    assert "Traceback" not in output
    assert TEST_TOKEN not in output


def _sqlite_env(url: str) -> dict[str, str]:
    return clean_env(BOT_TOKEN=TEST_TOKEN, DATABASE_URL=url, BOT_API_URL="http://127.0.0.1:9")


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only for this user; root ignores permissions, so it gets the immutable
    attribute instead (which needs CAP_LINUX_IMMUTABLE, as root has)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite://", "an in-memory SQLite database is a new, empty one"),
        ("sqlite+aiosqlite:///:memory:", "an in-memory SQLite database is a new, empty one"),
        ("sqlite+aiosqlite:///afile/shop.sqlite3", "part of afile is a file, not a directory"),
    ],
)
def test_an_unusable_sqlite_database_is_a_configuration_error(
    tmp_path: Path, url: str, expected: str
) -> None:
    (tmp_path / "afile").write_text("not a directory")
    result = run_main([], _sqlite_env(url), tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result.stderr, expected)


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_sqlite_database_exits_4_before_anything(tmp_path: Path, what: str) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    database = directory / "shop.sqlite3"
    database.touch()
    with read_only(database if what == "file" else directory):
        result = run_main([], _sqlite_env(f"sqlite+aiosqlite:///{database}"), tmp_path)
    assert result.returncode == 4, result.stderr
    assert_one_error_line(result.stderr, "read-only")
    assert database.stat().st_size == 0  # nothing was written


def test_a_token_with_a_trailing_newline_works_end_to_end(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """A secret mounted from a file ends in a newline: stripped, not refused."""
    with sqlite_database(tmp_path) as database:
        env = bot_env(database, api_url=fake_api.url, BOT_TOKEN=f"  {TEST_TOKEN}\n")
        with BotProcess([], env, tmp_path) as bot:
            fake_api.wait_for("getUpdates", timeout=60)
            fake_api.send_text(USER_ID, "/start", first_name="Newline")
            fake_api.wait_for("sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID)
            assert bot.stop(signal.SIGTERM) == 0
    assert {call.token for call in fake_api.calls} == {TEST_TOKEN}
    assert "Traceback" not in bot.output


def test_unreachable_redis_at_start_exits_3_before_migrating(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with sqlite_database(tmp_path) as database:
        env = bot_env(
            database,
            api_url=fake_api.url,
            REDIS_URL=f"redis://:hunter22@127.0.0.1:{free_port()}/0",
            DB_CONNECT_TIMEOUT="1",
        )
        result = run_main([], env, tmp_path)
        assert result.returncode == 3, result.stderr
        assert_one_error_line(result.stderr, "Redis at redis://127.0.0.1:")
        assert "is unreachable after" in result.stderr
        assert "hunter22" not in result.stderr
        assert fetch_all(database, "SELECT count(*) FROM sqlite_master") == [(0,)]
    assert fake_api.calls_of("getUpdates") == []


def test_redis_lost_while_serving_is_logged_once_each_way_and_survived(
    fake_api: FakeBotAPI, redis_server: ThrowawayRedis, tmp_path: Path
) -> None:
    def answered(user_id: int) -> None:
        mark = fake_api.mark()
        fake_api.send_text(user_id, "/start", first_name="Redis")
        fake_api.wait_for(
            "sendMessage", lambda call: int(call.params["chat_id"]) == user_id, after=mark
        )

    with sqlite_database(tmp_path) as database:
        env = bot_env(database, api_url=fake_api.url, REDIS_URL=redis_server.url)
        with BotProcess([], env, tmp_path) as bot:
            bot.wait_for_output("is ready")
            answered(USER_ID)

            redis_server.stop()
            mark = fake_api.mark()
            fake_api.send_text(USER_ID + 1, "/start")
            # Polling cannot keep the update: its user is asked to try again.
            told = fake_api.wait_for(
                "sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID + 1, after=mark
            )
            assert told.params["text"] == str(TRY_AGAIN)
            redis_server.start()
            bot.wait_for_output("is back; handling updates again (1 met it down meanwhile)")
            answered(USER_ID + 2)
            assert bot.stop(signal.SIGTERM) == 0
    output = bot.output
    assert output.count("lost Redis at") == 1, output
    assert output.count("is back; handling updates again") == 1, output
    assert_one_error_line(output, f"lost Redis at {redis_server.where}")
    assert redis_server.password not in output


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has no connection to lose
def test_a_connection_lost_inside_a_revision_is_named_as_such(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """pg_terminate_backend on the migrator's session while a revision waits at its gate is
    what a PostgreSQL restart does to it."""
    with migrating(database, tmp_path) as running:
        [(pid,)] = fetch_all(
            database,
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'shopbot-migrator%'",
        )
        fetch_all(database, "SELECT pg_terminate_backend(:pid)", pid=pid)
        running.gates.open(*COUNTER)
        assert running.process.wait() == 3, running.process.output
    assert_one_error_line(
        running.process.output,
        f"the connection to the database was lost while applying revision {COUNTER[0]}",
    )
    assert "rolled back" in running.process.output
