"""The command line's contract, through real processes: exit codes and one-line messages for a
database that is misconfigured, missing or down; `--no-migrate` instances during a migration;
the alembic commands that must not take the migration lock."""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.scenarios import COUNTER, migrating, real_head, version
from tests.support.databases import ThrowawayDatabase, admin_url
from tests.support.processes import BotProcess, bot_env, clean_env, run_alembic, run_main
from tests.support.replica import free_port

PASSWORD = "s3cret-Pa55word"
READY = "is ready; polling"


def _migrate_only(database_url: str, tmp_path: Path, **settings: str) -> tuple[int, str]:
    result = run_main(
        ["--migrate-only"], clean_env(DATABASE_URL=database_url, **settings), tmp_path
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert PASSWORD not in output
    return result.returncode, output


def _error_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if "ERROR" in line or "error:" in line]
    return line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a database url", "DATABASE_URL: not a database URL"),
        (f"mysql://shop:{PASSWORD}@127.0.0.1/shop", "unsupported database driver 'mysql'"),
    ],
)
def test_malformed_database_url_is_a_configuration_error(
    tmp_path: Path, url: str, expected: str
) -> None:
    code, output = _migrate_only(url, tmp_path)
    assert code == 2
    assert expected in _error_line(output)


@pytest.mark.usefixtures("postgres_available")
def test_missing_database_is_a_configuration_error_at_once(tmp_path: Path) -> None:
    url = admin_url().set(password=PASSWORD, database=f"missing_{uuid.uuid4().hex[:8]}")
    code, output = _migrate_only(url.render_as_string(hide_password=False), tmp_path)
    assert code == 2
    line = _error_line(output)
    assert f'database "{url.database}" does not exist' in line
    assert ":***@" in line
    assert "not reachable yet" not in output  # permanent: no retries


def test_refused_connection_is_retried_until_the_deadline(tmp_path: Path) -> None:
    url = f"postgresql://shop:{PASSWORD}@127.0.0.1:{free_port()}/shop"
    code, output = _migrate_only(url, tmp_path, DB_CONNECT_TIMEOUT="1")
    assert code == 3
    assert "not reachable yet" in output
    line = _error_line(output)
    assert "is unreachable after" in line
    assert "DB_CONNECT_TIMEOUT" in line
    assert "shop:***@" in line


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_database_that_comes_up_late_is_reached(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    port = free_port()
    late = database.url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    env = clean_env(DATABASE_URL=late, DB_CONNECT_TIMEOUT="120")
    with BotProcess(["--migrate-only"], env, tmp_path) as process:
        process.wait_for_output("not reachable yet")
        with _forwarding(port, database.url.port or 5432):
            assert process.wait(90) == 0, process.output
    assert version(database) == [real_head()]


@contextmanager
def _forwarding(port: int, target: int) -> Iterator[None]:
    """127.0.0.1:`port` starts answering, as PostgreSQL on `target`."""

    class Pipe(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.create_connection(("127.0.0.1", target)) as upstream:
                back = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
                back.start()
                _copy(self.request, upstream)
                back.join()

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", port), Pipe) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield
        finally:
            server.shutdown()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_no_migrate_instances_during_a_migration(
    database: ThrowawayDatabase, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    """A rolling deploy: while a new release migrates, `--no-migrate` instances of the old
    release start at once (their head is in the database) and those of the new one wait for
    it. Neither takes the lock, which the migrator holds all along."""
    with migrating(database, tmp_path) as holder:
        old_env = bot_env(database, api_url=fake_api.url)
        new_env = holder.env(database, api_url=fake_api.url)
        with (
            BotProcess(["--no-migrate"], old_env, tmp_path) as old,
            BotProcess(["--no-migrate"], new_env, tmp_path) as new,
        ):
            old.wait_for_output(READY, timeout=90)
            new.wait_for_output("waiting for the schema to reach head", timeout=90)
            assert READY not in new.output
            impatient = run_main(
                ["--no-migrate"], {**new_env, "SCHEMA_WAIT_TIMEOUT": "1"}, tmp_path
            )
            holder.finish(database)
            new.wait_for_output(READY, timeout=90)
            for bot in (old, new):  # both at once: stopping aiogram takes a moment
                os.kill(bot.pid, signal.SIGTERM)
            assert old.wait() == 0, old.output
            assert new.wait() == 0, new.output

    # The waiters said who migrates and what; the impatient one gave up saying so.
    assert "a migrator is at work: " in new.output
    assert f"applying {COUNTER[0]}" in new.output
    assert impatient.returncode == 4, impatient.stderr
    [line] = [line for line in impatient.stderr.splitlines() if "| ERROR" in line]
    assert "while a migrator is still at work" in line
    assert f"shopbot-migrator pid={holder.process.pid} " in line
    assert f"applying {COUNTER[0]}" in line
    for output in (old.output, new.output, impatient.stderr):
        assert "migration lock" not in output
        assert "Traceback" not in output
    assert new.output.index("waiting for the schema") < new.output.index("schema verified")


def test_alembic_upgrade_waits_for_the_lock_offline_sql_and_current_do_not(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    with migrating(database, tmp_path) as holder:
        env = clean_env(DATABASE_URL=database.url_string, MIGRATION_LOCK_TIMEOUT="1")
        upgrade = run_alembic(["upgrade", "head"], env)
        offline = run_alembic(["upgrade", "head", "--sql"], env)
        current = run_alembic(["current"], env)
        holder.finish(database)

    assert upgrade.returncode != 0
    [line] = [line for line in upgrade.stdout.splitlines() if line.startswith("FAILED")]
    assert "could not take the migration lock" in line
    assert f"shopbot-migrator pid={holder.process.pid} " in line
    assert offline.returncode == 0, offline.stderr
    assert current.returncode == 0, current.stderr
    assert real_head() in current.stdout
    # transactional_ddl: offline SQL wraps every revision in its own transaction, SQLite too.
    sql = offline.stdout
    assert sql.count("-- Running upgrade") >= 1
    assert sql.count("COMMIT;") == sql.count("-- Running upgrade")
    for result in (upgrade, offline, current):
        assert "Traceback" not in result.stdout + result.stderr
