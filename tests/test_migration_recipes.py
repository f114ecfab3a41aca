"""The README's recipes for changing a big table, each written as a revision
(tests/migrations_testonly/safe_ddl): a foreign key NOT VALID then validated, a unique
constraint from a concurrently built index, NOT NULL through a validated CHECK, a type change
as expand, backfill and contract. Applied to a populated shop by `python main.py` on both
backends, and downgraded by alembic."""

from __future__ import annotations

from pathlib import Path

from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario, version
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import bot_env, clean_env, run_alembic, run_main, write_alembic_ini

PURCHASES = 120
NEW_COLUMNS = {("purchases", "referrer_id"), ("purchases", "quantity"), ("users", "referral_code")}


def _columns(database: ThrowawayDatabase) -> set[tuple[str, str]]:
    if database.backend == "sqlite":
        return {
            (table, str(row[1]))
            for table in ("purchases", "users")
            for row in fetch_all(database, f"PRAGMA table_info({table})")
        }
    rows = fetch_all(
        database,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name IN ('purchases', 'users')",
    )
    return {(str(table), str(column)) for table, column in rows}


def _assert_postgresql_schema(database: ThrowawayDatabase) -> None:
    constraints = fetch_all(
        database,
        "SELECT conname, contype::text, convalidated FROM pg_constraint "
        "WHERE conname IN ('fk_purchases_referrer_id_users', 'uq_users_referral_code', "
        "'ck_purchases_quantity_big_not_null') ORDER BY conname",
    )
    assert constraints == [
        ("fk_purchases_referrer_id_users", "f", True),
        ("uq_users_referral_code", "u", True),
    ]
    quantity = fetch_all(
        database,
        "SELECT data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'purchases' AND column_name = 'quantity'",
    )
    assert quantity == [("bigint", "NO")]


def _assert_sqlite_schema(database: ThrowawayDatabase) -> None:
    foreign_keys = fetch_all(database, "PRAGMA foreign_key_list(purchases)")
    assert ("users", "referrer_id", "id") in {(row[2], row[3], row[4]) for row in foreign_keys}
    unique = fetch_all(database, "PRAGMA index_list(users)")
    assert ("uq_users_referral_code", 1) in {(row[1], row[2]) for row in unique}
    quantity = [row for row in fetch_all(database, "PRAGMA table_info(purchases)")]
    assert [(row[2], row[3]) for row in quantity if row[1] == "quantity"] == [("BIGINT", 1)]


def test_the_big_table_recipes_apply_to_a_populated_shop_and_downgrade(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    open_shop(database, shop_rows(purchases=PURCHASES))
    before = _columns(database)
    versions = scenario("safe_ddl", into=tmp_path)

    upgraded = run_main(
        ["--migrate-only"], bot_env(database, EXTRA_MIGRATION_DIRS=str(versions)), tmp_path
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert version(database) == ["safe8"]
    assert _columns(database) - before == NEW_COLUMNS
    assert fetch_all(database, "SELECT count(*), min(quantity), max(quantity) FROM purchases") == [
        (PURCHASES, 1, 1)
    ]
    if database.backend == "sqlite":
        _assert_sqlite_schema(database)
    else:
        _assert_postgresql_schema(database)

    ini = write_alembic_ini(tmp_path / "alembic.ini", versions)
    downgraded = run_alembic(
        ["downgrade", real_head()], clean_env(DATABASE_URL=database.url_string), ini=ini
    )

    assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
    assert version(database) == [real_head()]
    assert _columns(database) == before
    assert fetch_all(database, "SELECT count(*) FROM purchases") == [(PURCHASES,)]
