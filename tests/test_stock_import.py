"""Loading units in bulk (10,000 at once, duplicates skipped and counted), the command line
`python -m bot.stock load`, and the stock revision applied by `python main.py --migrate-only`
to a shop with purchases and taken back down, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine, create_session_factory
from bot.dao.models import KIND_STOCK, Category, Product, StockUnit
from bot.migration import migrate
from bot.shop import Shop
from bot.shop.stock import StockLoad, load_units
from tests.migrations_testonly.living_shop import shop_rows
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import PROJECT_ROOT, clean_env, run_alembic, run_command, run_main
from tests.support.shop import ShopBot, running_shop

BEFORE_STOCK = "489ffa93607c"
BULK = 10_000


def keys(first: int, last: int) -> list[str]:
    return [f"KEY-{n:06d}-{'x' * 40}" for n in range(first, last + 1)]


async def new_stock_product(shop: ShopBot) -> int:
    return await shop.add_product("Keys", name="Key", price=10, currency="XTR", kind=KIND_STOCK)


async def load(shop: ShopBot, product_id: int, text: str) -> StockLoad:
    return await shop.run(lambda session: load_units(Shop.on(session), product_id, text))


async def test_ten_thousand_units_load_at_once_with_duplicates_counted(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database) as shop:
        product_id = await new_stock_product(shop)
        other_id = await shop.add_product("More", name="Other", price=10, currency="XTR")
        await load(shop, product_id, "\n".join(keys(1, 100)))
        await load(shop, other_id, "\n".join(keys(101, 200)))  # another product's: no clash
        lines = keys(1, BULK) + keys(9_001, 9_050) + ["", "  ", "x" * 4001]

        report = await load(shop, product_id, "\r\n".join(lines))

        assert report == StockLoad(added=BULK - 100, duplicates=150, blank=2, too_long=1)
        assert report.describe() == (
            "added 9900, skipped 150 duplicates, skipped 2 blank lines, "
            "skipped 1 line over 4000 characters"
        )
        units = await shop.rows(StockUnit, StockUnit.product_id == product_id)
        assert sorted(unit.content for unit in units) == keys(1, BULK)


async def test_a_unit_of_4000_characters_is_unique_by_its_whole_text(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database) as shop:
        product_id = await new_stock_product(shop)
        long_a, long_b = "a" * 3999 + "1", "a" * 3999 + "2"

        report = await load(shop, product_id, f"{long_a}\n{long_b}")
        again = await load(shop, product_id, long_a)

        assert (report.added, again.added, again.duplicates) == (2, 0, 1)


def test_the_command_line_loads_a_file_and_refuses_bad_input_in_one_line(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shop.sqlite3'}"
    product_id = asyncio.run(_stock_product_at_head(database_url))
    env = clean_env(DATABASE_URL=database_url, PYTHONPATH=str(PROJECT_ROOT))
    units = tmp_path / "keys.txt"
    units.write_text("\n".join(["A-1", "A-2", "A-1", ""]) + "\n", encoding="utf-8")

    def stock(*args: str) -> tuple[int, str, str]:
        done = run_command([sys.executable, "-m", "bot.stock", "load", *args], env, tmp_path)
        return done.returncode, done.stdout.strip(), done.stderr.strip()

    assert stock(str(product_id), str(units)) == (
        0,
        f"product #{product_id}: added 2, skipped 1 duplicate, skipped 1 blank line",
        "",
    )
    code, _, error = stock(str(product_id), str(tmp_path / "missing.txt"))
    assert (code, error.count("\n")) == (2, 0)
    assert "cannot read" in error and "check the path" in error
    code, _, error = stock(str(product_id + 1), str(units))
    assert (code, error) == (
        2,
        f"shopbot stock: there is no stock product #{product_id + 1}; check its id in the "
        "admin panel",
    )


async def _stock_product_at_head(url: str) -> int:
    engine = create_engine(sa.make_url(url), poolclass=NullPool)
    try:
        await migrate(engine)
        async with create_session_factory(engine)() as session, session.begin():
            product = Product(
                category=Category(name="Keys"), name="K", price=5, currency="XTR", kind=KIND_STOCK
            )
            session.add(product)
            await session.flush()
            return product.id
    finally:
        await engine.dispose()


def test_the_stock_revision_applies_to_a_shop_with_purchases_and_back(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=database.url_string)
    upgraded = run_alembic(["upgrade", BEFORE_STOCK], env)
    assert upgraded.returncode == 0, upgraded.stderr
    rows = shop_rows(purchases=60)
    asyncio.run(_insert(database, rows))

    migrated = run_main(["--migrate-only"], env, tmp_path)

    assert migrated.returncode == 0, migrated.stderr
    assert fetch_all(database, "SELECT kind, count(*) FROM products GROUP BY kind") == [
        ("unlimited", len(rows["products"]))
    ]
    assert fetch_all(database, "SELECT count(*) FROM purchases") == [(60,)]
    fetch_all(database, "SELECT count(*) FROM stock_units")  # the table is there

    downgraded = run_alembic(["downgrade", BEFORE_STOCK], env)

    assert downgraded.returncode == 0, downgraded.stderr
    assert fetch_all(database, "SELECT count(*) FROM purchases") == [(60,)]
    on_sale = [(row["id"], row["on_sale"]) for row in rows["products"]]
    assert [
        (product_id, bool(flag))
        for product_id, flag in fetch_all(database, "SELECT id, on_sale FROM products ORDER BY id")
    ] == on_sale


async def _insert(database: ThrowawayDatabase, rows: dict[str, list[dict[str, object]]]) -> None:
    """The rows in the older schema's shape: only the columns they name."""
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for table, listed in rows.items():
                columns = [sa.column(name) for name in listed[0]]
                await conn.execute(sa.insert(sa.table(table, *columns)), listed)
    finally:
        await engine.dispose()
