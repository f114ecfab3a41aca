"""/healthz and /readyz as orchestrators see them, from real processes on the fake Bot API:
on HEALTH_PORT while polling (not ready while waiting for the schema, ready once it is at
head), on the webhook's own server with a webhook; HEALTH_PORT with a webhook is a
configuration error."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase, throwaway_database
from tests.support.processes import (
    BotProcess,
    bot_env,
    free_port,
    get_json,
    run_main,
    webhook_settings,
)
from tests.support.waiting import eventually


def test_polling_readiness_follows_the_schema(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    with throwaway_database("sqlite", tmp_path) as database:
        port = free_port()
        env = bot_env(
            database,
            api_url=fake_api.url,
            HEALTH_PORT=str(port),
            HEALTH_HOST="127.0.0.1",
            SCHEMA_WAIT_TIMEOUT="120",
        )
        with BotProcess(["--no-migrate"], env, tmp_path) as bot:  # nothing migrates yet
            alive = eventually(lambda: get_json(port, "/healthz"), lambda got: got[0] == 200)
            assert alive[1] == {"status": "alive"}
            status, report = get_json(port, "/readyz")
            assert status == 503
            assert report["schema"] == "waiting" and report["ready"] is False

            assert run_main(["--migrate-only"], env, tmp_path).returncode == 0
            # Ready (200) once the schema is at head; the poller once it has won the election.
            _, ready = eventually(
                lambda: get_json(port, "/readyz"), lambda got: got[1].get("role") == "poller"
            )
            assert ready == {
                "role": "poller",
                "schema": "at head",
                "database": "reachable",
                "stopping": False,
                "ready": True,
            }
            fake_api.wait_for("getUpdates", timeout=60)
            assert bot.stop(signal.SIGTERM) == 0
        assert "Traceback" not in bot.output


def test_a_webhook_serves_health_on_its_own_port(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(database, api_url=fake_api.url, **webhook_settings(port))
    with BotProcess([], env, tmp_path) as bot:
        bot.wait_for_output("listening for webhook updates")
        status, report = get_json(port, "/readyz")
        assert (status, report["role"], report["ready"]) == (200, "webhook", True)
        assert get_json(port, "/healthz") == (200, {"status": "alive"})
        assert bot.stop(signal.SIGTERM) == 0


def test_a_health_port_with_a_webhook_is_refused(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = bot_env(
        database,
        WEBHOOK_URL="https://shop.example.com",
        WEBHOOK_SECRET="s3cret",
        HEALTH_PORT=str(free_port()),
    )

    result = run_main([], env, tmp_path)

    assert result.returncode == 2
    assert "HEALTH_PORT is for polling" in result.stderr
    assert "Traceback" not in result.stderr
