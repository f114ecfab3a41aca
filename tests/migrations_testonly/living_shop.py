"""A living shop for migration tests and benchmarks: a database at the real head, and rows for
it: categories, users, products and purchases whose foreign keys all point at rows listed
before them, in the shape the initial revision created (columns later revisions add must be
nullable or have a server default to be left out).

Ids are explicit, so the rows reference each other; the same arguments give the same rows.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, MetaData, Table, insert, text
from sqlalchemy.pool import NullPool

from bot.dao import Base
from bot.dao.database import create_engine
from bot.migration import migrate
from tests.support.databases import ThrowawayDatabase

Row = dict[str, object]
ShopRows = dict[str, list[Row]]  # table name -> rows, parents before children

CATEGORIES = 3
PRODUCTS = 12


def shop_rows(*, purchases: int) -> ShopRows:
    """`purchases` purchases by one user per ten purchases (at least three), spread over
    `PRODUCTS` products in `CATEGORIES` categories."""
    users = max(3, purchases // 10)
    return {
        "categories": [{"id": i, "name": f"category {i}"} for i in range(1, CATEGORIES + 1)],
        "users": [_user(i) for i in range(1, users + 1)],
        "products": [_product(i) for i in range(1, PRODUCTS + 1)],
        "purchases": [_purchase(i, users) for i in range(1, purchases + 1)],
    }


def _user(i: int) -> Row:
    return {
        "id": i,
        "telegram_id": 7_000_000 + i,
        "username": None if i % 3 == 0 else f"user{i}",
        "first_name": f"First{i}",
        "last_name": None,
    }


def _price(product: int) -> int:
    return 100 * product + 50


def _product(i: int) -> Row:
    return {
        "id": i,
        "category_id": 1 + i % CATEGORIES,
        "name": f"product {i}",
        "description": f"what product {i} is",
        "price": _price(i),
        "currency": "XTR",
        "file_id": None,
        "hidden_content": f"the secret of product {i}",
        "on_sale": i % 4 != 0,
    }


def _purchase(i: int, users: int) -> Row:
    product = 1 + (i * 7) % PRODUCTS
    return {
        "id": i,
        "user_id": 1 + i % users,
        "product_id": product,
        "amount": _price(product),
        "currency": "XTR",
        "provider": "telegram_stars",
        "charge_id": f"charge-{i:06d}",
        "provider_charge_id": None if i % 2 else f"provider-{i:06d}",
    }


def tagged(rows: ShopRows) -> list[Row]:
    """The rows as pytest-alembic's `at_revision_data` takes them: each names its table."""
    return [{"__tablename__": table, **row} for table, listed in rows.items() for row in listed]


def insert_as_it_is(database: ThrowawayDatabase, rows: ShopRows) -> None:
    """The rows through the schema as the database has it now (reflected, not the models):
    for a database at an older revision."""

    def fill(conn: Connection) -> None:
        for table, listed in rows.items():
            conn.execute(insert(Table(table, MetaData(), autoload_with=conn)), listed)

    async def run() -> None:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(fill)
        finally:
            await engine.dispose()

    asyncio.run(run())


def open_shop(database: ThrowawayDatabase, rows: ShopRows | None = None) -> None:
    """Migrate the database to the real head (as the bot does), then insert `rows` through the
    real schema (the models' tables) in one transaction. The rows carry their ids, so on
    PostgreSQL each table's id sequence is moved past them, as a shop's own inserts would."""

    async def run() -> None:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                for table, listed in (rows or {}).items():
                    if listed:  # an empty list would insert one row of defaults
                        await conn.execute(insert(Base.metadata.tables[table]), listed)
                    if listed and database.backend == "postgresql":
                        await conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"
                            )
                        )
        finally:
            await engine.dispose()

    asyncio.run(run())
