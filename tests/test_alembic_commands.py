"""The alembic CLI itself, through the same env.py the bot uses, on both backends."""

from __future__ import annotations

from pathlib import Path

from bot.migration.revisions import Revisions, alembic_config
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import clean_env, run_alembic, write_alembic_ini

HEAD = Revisions(alembic_config()).head()


def _version(database: ThrowawayDatabase) -> list[tuple]:
    return fetch_all(database, "SELECT version_num FROM alembic_version")


def test_upgrade_current_downgrade(database: ThrowawayDatabase) -> None:
    env = clean_env(DATABASE_URL=database.url_string)

    upgraded = run_alembic(["upgrade", "head"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert _version(database) == [(HEAD,)]

    current = run_alembic(["current"], env)
    assert current.returncode == 0, current.stderr
    assert f"{HEAD} (head)" in current.stdout

    downgraded = run_alembic(["downgrade", "base"], env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert _version(database) == []

    history = run_alembic(["history"], env)
    assert HEAD in history.stdout


def test_url_can_be_given_with_x_argument(database: ThrowawayDatabase) -> None:
    result = run_alembic(["-x", f"url={database.url_string}", "upgrade", "head"], clean_env())
    assert result.returncode == 0, result.stderr
    assert _version(database) == [(HEAD,)]


def test_offline_sql_touches_nothing(database: ThrowawayDatabase) -> None:
    result = run_alembic(["upgrade", "head", "--sql"], clean_env(DATABASE_URL=database.url_string))
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE users" in result.stdout
    assert "INSERT INTO alembic_version (version_num) VALUES (" in result.stdout
    assert f"version_num='{HEAD}'" in result.stdout or f"VALUES ('{HEAD}')" in result.stdout
    assert "COMMIT" in result.stdout
    assert "migration lock" not in result.stderr


def test_autogenerate_against_migrated_database_is_empty(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=database.url_string)
    assert run_alembic(["upgrade", "head"], env).returncode == 0
    scratch = tmp_path / "versions"
    scratch.mkdir()
    ini = write_alembic_ini(tmp_path / "alembic.ini", scratch)
    result = run_alembic(
        ["revision", "--autogenerate", "-m", "probe", "--version-path", str(scratch)],
        env,
        ini=ini,
    )
    assert result.returncode == 0, result.stderr
    [generated] = scratch.glob("*_probe.py")
    body = generated.read_text()
    upgrade = body[body.index("def upgrade") : body.index("def downgrade")]
    assert "op." not in upgrade, upgrade


def test_unknown_revision_is_one_line(database: ThrowawayDatabase) -> None:
    result = run_alembic(["upgrade", "feedbeef"], clean_env(DATABASE_URL=database.url_string))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "FAILED: Can't locate revision identified by 'feedbeef'" in output
    assert output.count("Can't locate revision") == 1  # said once, not logged and printed
    assert "Traceback" not in result.stderr
