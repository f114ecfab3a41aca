"""End to end: the real `python main.py` migrates, then polls the fake Bot API and serves /start."""

from __future__ import annotations

import signal
from pathlib import Path

from bot.migration.revisions import Revisions, alembic_config
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import TEST_TOKEN, BotProcess, bot_env, free_port, run_main
from tests.support.waiting import eventually

HEAD = Revisions(alembic_config()).head()
USER_ID = 5551234


def _users(database: ThrowawayDatabase) -> list[tuple]:
    return fetch_all(database, "SELECT telegram_id, username FROM users ORDER BY id")


def _has_version_table(database: ThrowawayDatabase) -> bool:
    if database.backend == "sqlite":
        sql = "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
    else:
        sql = "SELECT count(*) FROM pg_tables WHERE tablename = 'alembic_version'"
    return fetch_all(database, sql) == [(1,)]


def test_bot_migrates_then_polls_and_serves_start(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = bot_env(database, api_url=fake_api.url)
    with BotProcess([], env, tmp_path) as bot:
        fake_api.wait_for("getUpdates", timeout=60)
        # The startup hook finished migrating before aiogram began polling.
        assert fetch_all(database, "SELECT version_num FROM alembic_version") == [(HEAD,)]
        log = bot.output
        assert log.index("schema migrated") < log.index("Start polling")

        mark = fake_api.mark()
        fake_api.send_text(USER_ID, "/start", username="alice", first_name="Alice")
        reply = fake_api.wait_for(
            "sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID, after=mark
        )
        assert "Hello, Alice" in reply.params["text"]
        keyboard = reply.params["reply_markup"]["inline_keyboard"]
        buttons = [button["text"] for row in keyboard for button in row]
        assert any("Catalog" in text for text in buttons)
        eventually(lambda: _users(database), lambda users: users == [(USER_ID, "alice")])

        mark = fake_api.mark()
        fake_api.send_text(USER_ID, "/start", username="alice_renamed", first_name="Alice")
        fake_api.wait_for(
            "sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID, after=mark
        )
        eventually(lambda: _users(database), lambda users: users == [(USER_ID, "alice_renamed")])

        assert bot.stop(signal.SIGTERM) == 0
    assert "bot stopped" in bot.output
    assert "Traceback" not in bot.output


def test_no_migrate_refuses_an_unmigrated_schema_and_never_polls(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = bot_env(database, api_url=fake_api.url, SCHEMA_WAIT_TIMEOUT="0")
    result = run_main(["--no-migrate"], env, tmp_path)
    assert result.returncode == 4, result.stderr
    assert "schema is behind the code" in result.stderr
    assert "no migrator is at work; start an instance without --no-migrate" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_api.calls_of("getUpdates") == []
    assert not _has_version_table(database)  # verifying wrote nothing


def test_migrate_only_exits_without_polling(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = bot_env(database, api_url=fake_api.url)
    first = run_main(["--migrate-only"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"-> {HEAD}" in first.stderr
    assert "Context impl" not in first.stderr  # alembic's per-connection lines: DEBUG only
    again = run_main(["--migrate-only"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to apply" in again.stderr
    assert fake_api.calls == []
    assert fetch_all(database, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_a_token_the_bot_api_refuses_is_a_configuration_error(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    fake_api.set_failure("setMyCommands", error_code=401, description="Unauthorized")
    result = run_main([], bot_env(database, api_url=fake_api.url), tmp_path)
    assert result.returncode == 2, result.stderr
    assert "the Bot API rejected BOT_TOKEN as unauthorized" in result.stderr
    assert "Traceback" not in result.stderr
    assert TEST_TOKEN not in result.stderr
    assert fake_api.calls_of("getUpdates") == []


def test_an_unreachable_bot_api_exits_3(database: ThrowawayDatabase, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    result = run_main([], bot_env(database, api_url=closed), tmp_path)
    assert result.returncode == 3, result.stderr
    assert "cannot reach the Bot API" in result.stderr
    assert "Traceback" not in result.stderr
    assert TEST_TOKEN not in result.stderr
