"""A living shop's schema evolves and is rolled back, on SQLite and PostgreSQL: a database with
hundreds of purchases goes through a type change, a NOT NULL column with a server default, a
unique constraint, a renamed column of a referenced table and a backfill (the templates in
tests/migrations_testonly/rebuild and evolution), applied by the real
`python main.py --migrate-only` and undone by the real `alembic downgrade`. Every row stays, the
foreign keys hold, and the rolled back schema is the one we started from."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine
from tests.migrations_testonly.living_shop import ShopRows, open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario, version
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import bot_env, clean_env, run_alembic, run_main, write_alembic_ini

T = TypeVar("T")
EVOLVED = "evolve5"
# The columns whose values must survive every step, in the shape they have at both ends.
KEY_COLUMNS = {
    "categories": "id, name",
    "users": "id, telegram_id, username, first_name",
    "products": "id, category_id, name, price, currency, hidden_content, on_sale",
    "purchases": "id, user_id, product_id, amount, currency, charge_id, provider_charge_id",
}
FOREIGN_KEYS = {
    ("products", "fk_products_category_id_categories"),
    ("purchases", "fk_purchases_product_id_products"),
    ("purchases", "fk_purchases_user_id_users"),
    ("stock_units", "fk_stock_units_product_id_products"),
    ("stock_units", "fk_stock_units_purchase_id_purchases"),
    ("outbox", "fk_outbox_product_id_products"),
    ("outbox", "fk_outbox_purchase_id_purchases"),
    ("restock_subscriptions", "fk_restock_subscriptions_product_id_products"),
    ("orders", "fk_orders_user_id_users"),
    ("orders", "fk_orders_product_id_products"),
    ("orders", "fk_orders_purchase_id_purchases"),
    ("reviews", "fk_reviews_product_id_products"),
    ("reviews", "fk_reviews_purchase_id_purchases"),
    ("promo_codes", "fk_promo_codes_product_id_products"),
    ("promo_codes", "fk_promo_codes_category_id_categories"),
    ("promo_uses", "fk_promo_uses_promo_code_id_promo_codes"),
    ("promo_uses", "fk_promo_uses_purchase_id_purchases"),
    ("orders", "fk_orders_promo_code_id_promo_codes"),
    ("referrals", "fk_referrals_invited_id_users"),
    ("referrals", "fk_referrals_inviter_id_users"),
    ("promo_codes", "fk_promo_codes_earned_by_purchase_id_purchases"),
    ("broadcasts", "fk_broadcasts_button_product_id_products"),
    ("broadcast_recipients", "fk_broadcast_recipients_broadcast_id_broadcasts"),
}


@dataclass(frozen=True)
class Rows:
    counts: dict[str, int]
    checksums: dict[str, str]


def _rows(database: ThrowawayDatabase) -> Rows:
    counts, checksums = {}, {}
    for table, columns in KEY_COLUMNS.items():
        rows = fetch_all(database, f"SELECT {columns} FROM {table} ORDER BY id")
        counts[table] = len(rows)
        checksums[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return Rows(counts, checksums)


def _inspected(database: ThrowawayDatabase, read: Callable[[Inspector], T]) -> T:
    async def run() -> T:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: read(inspect(sync)))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _schema(inspector: Inspector) -> dict[str, Any]:
    """What a rollback must give back: columns, keys, constraints and indexes of each table."""
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (uq["name"], tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (ck["name"], ck["sqltext"]) for ck in inspector.get_check_constraints(table)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), ix["unique"])
                for ix in inspector.get_indexes(table)
            ),
        }
        for table in KEY_COLUMNS
    }


def _products(inspector: Inspector) -> tuple[dict[str, str], set[str | None]]:
    """The products table's column types by name, and its unique constraints' names."""
    types = {column["name"]: str(column["type"]) for column in inspector.get_columns("products")}
    return types, {unique["name"] for unique in inspector.get_unique_constraints("products")}


def _assert_foreign_keys_hold(database: ThrowawayDatabase) -> None:
    if database.backend == "sqlite":
        assert fetch_all(database, "PRAGMA foreign_key_check") == []
        return
    constraints = fetch_all(
        database,
        "SELECT conrelid::regclass::text, conname, convalidated FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
    )
    assert {(table, name) for table, name, _ in constraints} == FOREIGN_KEYS
    assert all(valid for _, _, valid in constraints)


def _assert_evolved(database: ThrowawayDatabase, seeded: ShopRows) -> None:
    """At the evolution's head: the changed type, the new constraint, the renamed column with
    the old values, the NOT NULL column's default and the backfilled product names."""
    types, uniques = _inspected(database, _products)
    assert types["details"] == "VARCHAR(2000)"
    assert "description" not in types
    assert "uq_products_category_id_name" in uniques
    products = {row["id"]: row for row in seeded["products"]}
    assert fetch_all(database, "SELECT id, details FROM products ORDER BY id") == [
        (id_, product["description"]) for id_, product in products.items()
    ]
    assert fetch_all(database, "SELECT id, status, product_name FROM purchases ORDER BY id") == [
        (purchase["id"], "paid", products[purchase["product_id"]]["name"])
        for purchase in seeded["purchases"]
    ]


def test_evolving_a_shop_with_purchases_keeps_every_row(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    seeded = shop_rows(purchases=400)
    open_shop(database, seeded)
    rows = _rows(database)
    schema = _inspected(database, _schema)
    versions = scenario("rebuild", "evolution", into=tmp_path)

    upgraded = run_main(
        ["--migrate-only"], bot_env(database, EXTRA_MIGRATION_DIRS=str(versions)), tmp_path
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert version(database) == [EVOLVED]
    assert rows.counts["purchases"] == 400
    assert _rows(database) == rows
    _assert_foreign_keys_hold(database)
    _assert_evolved(database, seeded)

    env = clean_env(DATABASE_URL=database.url_string)
    ini = write_alembic_ini(tmp_path / "alembic.ini", versions)
    downgraded = run_alembic(["downgrade", real_head()], env, ini=ini)

    assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
    assert version(database) == [real_head()]
    assert _rows(database) == rows
    assert _inspected(database, _schema) == schema
    _assert_foreign_keys_hold(database)
    assert fetch_all(database, "SELECT id, description FROM products ORDER BY id") == [
        (row["id"], row["description"]) for row in seeded["products"]
    ]
