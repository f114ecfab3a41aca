"""`python -m bot.stock load PRODUCT_ID FILE`: the admin panel's unit loading, for files too big
to send to the bot. Needs only DATABASE_URL; refuses a database whose schema is not at head.
Every error is one line, with the exit codes of `bot.errors`: 2 a bad file or product id
(or setting), 3 the database unreachable, 4 the schema not at head."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot import migration
from bot.config import DatabaseSettings, database_secrets, load_settings
from bot.dao.database import (
    UnusableSQLiteError,
    check_sqlite_database,
    create_engine,
    serving_session_factory,
)
from bot.dao.failures import is_transient
from bot.errors import ConfigError, StartupError, UnreachableError
from bot.log import setup_logging
from bot.shop.services import Shop
from bot.shop.stock import StockLoad, decode_document, is_stock, load_units


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.stock",
        description="Manage the units of stock products. Settings as for main.py (DATABASE_URL).",
        epilog="exit codes: 0 ok, 2 bad file, product or setting, 3 database unreachable, "
        "4 schema not at head (start the bot or run main.py --migrate-only first)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser(
        "load", help="add units from a UTF-8 text file, one per line; duplicates are skipped"
    )
    load.add_argument("product_id", type=int, help="the stock product's id (#N in the admin panel)")
    load.add_argument("file", type=Path, help="a .txt or .csv file, one unit per line")
    return parser.parse_args(argv)


def read_units_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}; check the path") from None
    try:
        return decode_document(data)
    except ValueError:
        raise ConfigError(
            f"{path} is not UTF-8 text; save it as UTF-8, one unit per line"
        ) from None


async def load_file(settings: DatabaseSettings, product_id: int, text: str) -> StockLoad:
    engine = create_engine(settings.database)
    try:
        options = migration.MigrationOptions.from_settings(settings)
        await migration.verify(engine, dataclasses.replace(options, schema_wait_timeout=0))
        async with serving_session_factory(engine)() as session, session.begin():
            shop = Shop.on(session)
            product = await shop.products.get(product_id)
            if product is None or not is_stock(product):
                raise ConfigError(
                    f"there is no stock product #{product_id}; check its id in the admin panel"
                )
            return await load_units(shop, product.id, text)
    except SQLAlchemyError as error:
        if is_transient(error):
            raise UnreachableError(
                f"lost the database while loading: {error.__class__.__name__}"
            ) from None
        raise StartupError(
            f"the database refused the units: {' '.join(str(error).split())[:300]}"
        ) from None
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(DatabaseSettings)
        # Quiet unless asked: the result is the one line this command prints.
        level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
        setup_logging(level, settings.log_format, database_secrets(settings))
        check_sqlite_database(settings.database)
        text = read_units_file(args.file)
        load = asyncio.run(load_file(settings, args.product_id, text))
    except UnusableSQLiteError as error:
        print(f"shopbot stock: {error}", file=sys.stderr)
        return ConfigError.exit_code
    except StartupError as error:
        print(f"shopbot stock: {error}", file=sys.stderr)
        return error.exit_code
    print(f"product #{args.product_id}: {load.describe()}")
    return 0
