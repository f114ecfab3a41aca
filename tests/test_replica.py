"""Against a real hot-standby replica (tests/scripts/pg_replica.sh): migrating is refused with
the `--no-migrate` hint; `--no-migrate` is refused too, at once, since a bot on a replica alone
could serve nobody. Also the one wrong-password case, which needs a server that asks for
passwords (the machine's cluster trusts 127.0.0.1)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import execute, fetch_all
from tests.support.processes import (
    BotProcess,
    bot_env,
    clean_env,
    free_port,
    get_json,
    run_alembic,
    run_main,
)
from tests.support.replica import PASSWORD, PASSWORD_ROLE, Database, ReplicaPair

pytestmark = pytest.mark.slow


def _migrate_primary(replicated: Database, tmp_path: Path) -> None:
    result = run_main(["--migrate-only"], bot_env(replicated.primary), tmp_path)
    assert result.returncode == 0, result.stderr


def test_migrating_a_replica_is_refused(
    replicated: Database, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    bot = run_main([], bot_env(replicated.replica, api_url=fake_api.url), tmp_path)
    cli = run_alembic(["upgrade", "head"], clean_env(DATABASE_URL=replicated.replica.url_string))

    assert bot.returncode == 4, bot.stderr
    [line] = [line for line in bot.stderr.splitlines() if "| ERROR" in line]
    assert "the database is read-only (it is a hot-standby replica" in line
    assert "start this instance with --no-migrate" in line
    assert fake_api.calls_of("getUpdates") == []
    assert cli.returncode != 0
    assert (
        "FAILED: the database is read-only (it is a hot-standby replica" in cli.stdout + cli.stderr
    )
    for output in (bot.stderr, cli.stdout + cli.stderr):
        assert "Traceback" not in output


def test_no_migrate_on_a_replica_refuses_at_once_as_it_could_serve_nobody(
    replicated: Database, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    """Every /start writes its user: on a replica alone the bot could answer no one, so it
    stops at start with one line and exit 2 (before waiting for any schema)."""
    env = bot_env(replicated.replica, api_url=fake_api.url, SCHEMA_WAIT_TIMEOUT="120")

    result = run_main(["--no-migrate"], env, tmp_path)

    assert result.returncode == 2, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert "the database is read-only (it is a hot-standby replica" in line
    assert "point DATABASE_URL at the primary" in line
    assert "waiting for the schema" not in result.stderr
    assert fake_api.calls_of("getUpdates") == []
    assert "Traceback" not in result.stderr


def test_wrong_password_is_a_configuration_error_and_never_printed(
    pair: ReplicaPair, replicated: Database, tmp_path: Path
) -> None:
    pair.execute(f'ALTER DATABASE "{replicated.primary.url.database}" OWNER TO {PASSWORD_ROLE}')
    url = replicated.primary.url.set(username=PASSWORD_ROLE)
    wrong = run_main(
        ["--migrate-only"],
        clean_env(DATABASE_URL=url.set(password="wrong-Pa55word").render_as_string(False)),
        tmp_path,
    )
    right = run_main(
        ["--migrate-only"],
        clean_env(DATABASE_URL=url.set(password=PASSWORD).render_as_string(False)),
        tmp_path,
    )

    assert wrong.returncode == 2, wrong.stderr
    [line] = [line for line in wrong.stderr.splitlines() if "| ERROR" in line]
    assert f'password authentication failed for user "{PASSWORD_ROLE}"' in line
    assert f"{PASSWORD_ROLE}:***@" in line
    assert "not reachable yet" not in wrong.stderr  # permanent: no retries
    assert right.returncode == 0, right.stderr
    for output in (wrong.stdout + wrong.stderr, right.stdout + right.stderr):
        assert "Pa55word" not in output
        assert "Traceback" not in output


def test_an_instance_with_a_read_replica_serves_reading_from_it(
    pair: ReplicaPair, replicated: Database, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    """The whole wiring, as `python main.py` does it: the schema verified on both servers,
    reads on the replica (reached with a password, which no line shows), a new user's /start
    answered and stored on the primary, a clean stop."""
    _migrate_primary(replicated, tmp_path)
    grant = f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PASSWORD_ROLE}"
    execute(replicated.primary.url, grant)  # the replica has it once it has replayed it
    reader = replicated.replica.url.set(username=PASSWORD_ROLE, password=PASSWORD)
    health = free_port()
    env = bot_env(
        replicated.primary,
        api_url=fake_api.url,
        DATABASE_READ_URL=reader.render_as_string(hide_password=False),
        HEALTH_PORT=str(health),
        HEALTH_HOST="127.0.0.1",
    )
    with BotProcess(["--no-migrate"], env, tmp_path) as bot:
        fake_api.wait_for("getUpdates", timeout=60)
        fake_api.send_text(5001, "/start", first_name="Ann")
        fake_api.wait_for("sendMessage", lambda call: "Hello, Ann!" in call.params["text"])
        status, ready = get_json(health, "/readyz")
        assert (status, ready["reads"]["reads"], ready["reads"]["replica"]) == (
            200,
            "replica",
            "in step",
        )
        assert bot.stop(signal.SIGTERM) == 0

    assert f"schema verified on postgresql+asyncpg://{PASSWORD_ROLE}:***@" in bot.output
    assert "reads go to the replica" in bot.output
    assert fetch_all(replicated.primary, "SELECT first_name FROM users") == [("Ann",)]
    assert PASSWORD not in bot.output
    assert "Traceback" not in bot.output
