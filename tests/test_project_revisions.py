"""The project's own revisions on a shop that has sold for a while: a database at the first
revision, filled with users, products and hundreds of purchases, brought to head by the real
`python main.py --migrate-only`, then back to the first revision by the real alembic CLI, on
SQLite and PostgreSQL: every row kept, foreign keys intact, both ways."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.migration.revisions import Revisions, alembic_config
from tests.migrations_testonly.living_shop import insert_as_it_is, shop_rows
from tests.migrations_testonly.scenarios import version
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import clean_env, run_alembic, run_main

TABLES = ("categories", "users", "products", "purchases")
OUTBOX_REVISION = "c7d061978b68"


def _kept(database: ThrowawayDatabase) -> dict[str, list[tuple]]:
    return {
        table: fetch_all(database, f"SELECT id FROM {table} ORDER BY id") for table in TABLES
    } | {
        "purchase links": fetch_all(
            database, "SELECT id, user_id, product_id, amount, charge_id FROM purchases ORDER BY id"
        )
    }


def _foreign_keys_hold(database: ThrowawayDatabase) -> None:
    if database.backend == "sqlite":
        assert fetch_all(database, "PRAGMA foreign_key_check") == []
    else:
        assert fetch_all(
            database,
            "SELECT count(*) FROM purchases p LEFT JOIN products r ON r.id = p.product_id "
            "WHERE r.id IS NULL",
        ) == [(0,)]


def test_a_populated_shop_goes_to_head_by_main_and_back_by_alembic(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    first, *later = Revisions(alembic_config()).pending(())
    env = clean_env(DATABASE_URL=database.url_string)
    assert run_alembic(["upgrade", first], env).returncode == 0
    insert_as_it_is(database, shop_rows(purchases=300))
    before = _kept(database)

    upgraded = run_main(["--migrate-only"], env, tmp_path)

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"{len(later)} revision(s) to apply" in upgraded.stderr
    assert version(database) == [(later or [first])[-1]]
    assert _kept(database) == before
    _foreign_keys_hold(database)

    downgraded = run_alembic(["downgrade", first], env)

    assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
    assert version(database) == [first]
    assert _kept(database) == before
    _foreign_keys_hold(database)


def test_a_downgrade_past_the_outbox_refuses_while_goods_wait_to_be_sent(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """The older code would never send them: the downgrade stops with one line, and the
    database stays at the outbox's revision with every row."""
    env = clean_env(DATABASE_URL=database.url_string)
    assert run_main(["--migrate-only"], env, tmp_path).returncode == 0
    assert run_alembic(["downgrade", OUTBOX_REVISION], env).returncode == 0
    rows = shop_rows(purchases=3)
    purchase = rows["purchases"][0]
    waiting = {
        "id": 1,
        "kind": "goods",
        "chat_id": 7_000_001,
        "purchase_id": purchase["id"],
        "product_id": purchase["product_id"],
        "state": "pending",
        "due_at": datetime(2026, 1, 4, 5, 6, 7),
    }
    insert_as_it_is(database, {**rows, "outbox": [waiting]})

    downgraded = run_alembic(["downgrade", "c41f7e2a9d63"], env)

    assert downgraded.returncode != 0
    assert "1 purchase(s) not delivered yet" in downgraded.stdout + downgraded.stderr, (
        downgraded.stdout
    )
    assert "Traceback" not in downgraded.stderr
    assert version(database) == [OUTBOX_REVISION]
    assert fetch_all(database, "SELECT state FROM outbox") == [("pending",)]
