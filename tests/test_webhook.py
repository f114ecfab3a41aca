"""Webhook mode: the real bot migrates, registers its webhook (secret header, no token in the
URL) and serves updates Telegram posts to it; anything without the secret is refused."""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase, fetch_all, sqlite_database
from tests.support.processes import (
    TEST_TOKEN,
    BotProcess,
    bot_env,
    free_port,
    run_main,
    webhook_settings,
)
from tests.support.processes import WEBHOOK_PUBLIC_URL as PUBLIC_URL
from tests.support.processes import WEBHOOK_SECRET as SECRET
from tests.support.waiting import eventually

USER_ID = 777001


@pytest.fixture
def sqlite_file(tmp_path: Path) -> ThrowawayDatabase:
    # Webhooks are transport, not storage: one backend is enough here.
    with sqlite_database(tmp_path) as database:
        return database


def _post(url: str, update: dict, secret: str | None) -> int:
    return _post_raw(url, json.dumps(update).encode(), secret)


def _post_raw(url: str, body: bytes, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _start_update(update_id: int, user_id: int) -> dict:
    sender = {"id": user_id, "is_bot": False, "first_name": "Hook"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Hook"},
            "from": sender,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def test_webhook_serves_updates_that_carry_the_secret(
    sqlite_file: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = _webhook_env(sqlite_file, fake_api.url, port)
    local = f"http://127.0.0.1:{port}/telegram/webhook"
    with BotProcess([], env, tmp_path) as bot:
        registered = fake_api.wait_for("setWebhook", timeout=60)
        assert registered.params["url"] == f"{PUBLIC_URL}/telegram/webhook"
        assert registered.params["secret_token"] == SECRET
        assert "message" in registered.params["allowed_updates"]
        bot.wait_for_output("listening for webhook updates")

        assert _post(local, _start_update(1, 999), secret=None) == 401
        assert _post(local, _start_update(2, 998), secret="wrong") == 401
        assert _post(local, _start_update(3, USER_ID), secret=SECRET) == 200
        fake_api.wait_for("sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID)
        users = eventually(
            lambda: fetch_all(sqlite_file, "SELECT telegram_id FROM users"), lambda rows: rows
        )
        assert users == [(USER_ID,)]  # the refused posts registered nobody

        assert bot.stop(signal.SIGTERM) == 0
    assert fake_api.calls_of("getUpdates") == []
    output = bot.output
    assert "Traceback" not in output
    assert SECRET not in output
    assert TEST_TOKEN not in output


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"WEBHOOK_URL": PUBLIC_URL}, "WEBHOOK_SECRET: required when WEBHOOK_URL is set"),
        (
            {
                "WEBHOOK_URL": PUBLIC_URL,
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_PATH": f"/bot{TEST_TOKEN}",
            },
            "WEBHOOK_PATH: must not contain the bot token",
        ),
        ({"WEBHOOK_URL": PUBLIC_URL, "WEBHOOK_SECRET": "has spaces"}, "WEBHOOK_SECRET: expected"),
    ],
)
def test_unsafe_webhook_settings_are_refused(
    sqlite_file: ThrowawayDatabase, tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    result = run_main([], bot_env(sqlite_file, **settings), tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert TEST_TOKEN not in result.stderr
    assert "Traceback" not in result.stderr


def _webhook_env(database: ThrowawayDatabase, api_url: str, port: int) -> dict[str, str]:
    return bot_env(database, api_url=api_url, **webhook_settings(port))


def test_a_webhook_port_in_use_stops_the_start_before_set_webhook(
    sqlite_file: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_main([], _webhook_env(sqlite_file, fake_api.url, port), tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and f"cannot listen for the webhook on 127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in result.stderr
    assert fake_api.calls_of("setWebhook") == []
    assert fake_api.calls_of("setMyCommands") == []  # the startup hooks never ran


def test_a_body_that_is_not_an_update_gets_400_and_one_warning(
    sqlite_file: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    local = f"http://127.0.0.1:{port}/telegram/webhook"
    with BotProcess([], _webhook_env(sqlite_file, fake_api.url, port), tmp_path) as bot:
        bot.wait_for_output("listening for webhook updates")
        assert _post_raw(local, b"{not json") == 400
        assert _post_raw(local, b'["a list"]') == 400
        assert _post_raw(local, b'{"update_id": "one"}') == 400
        assert _post(local, _start_update(4, USER_ID), secret=SECRET) == 200
        fake_api.wait_for("sendMessage", lambda call: int(call.params["chat_id"]) == USER_ID)
        assert bot.stop(signal.SIGTERM) == 0
    output = bot.output
    assert output.count("webhook: refused a request whose body is not") == 3, output
    assert "| ERROR" not in output
    assert "Traceback" not in output


def test_a_stop_during_the_start_up_is_not_lost(
    sqlite_file: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """SIGTERM while the start-up hooks still talk to Telegram (the schema is ready, payment
    callbacks may already be answered): the start finishes, then the instance stops as usual,
    instead of dying on the signal."""
    fake_api.set_latency(3, "setWebhook")
    port = free_port()
    with BotProcess([], _webhook_env(sqlite_file, fake_api.url, port), tmp_path) as bot:
        fake_api.wait_for("setMyCommands", timeout=60)  # before setWebhook, after the schema
        assert bot.stop(signal.SIGTERM) == 0
    assert "stopping: new webhook updates get 503" in bot.output
    assert "Traceback" not in bot.output
