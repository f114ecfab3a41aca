"""pytest-alembic's built-in checks and its experimental ones, on a real SQLite file and on real
PostgreSQL, through our own env.py, with a shop's rows inserted as each revision is reached (so
upgrades and downgrades run on rows, not on empty tables)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import pytest
from pytest_alembic import Config
from pytest_alembic.runner import MigrationContext
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from pytest_alembic.tests.experimental import (
    all_models_register_on_metadata,
    test_downgrade_leaves_no_trace,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeMeta
from sqlalchemy.pool import NullPool

from bot.dao import Base
from bot.dao.database import create_engine
from bot.migration.revisions import alembic_config as project_alembic_config
from tests.migrations_testonly.living_shop import Row, shop_rows, tagged
from tests.support.databases import ThrowawayDatabase, fetch_all

__all__ = [
    "test_downgrade_leaves_no_trace",
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


def _product_row(product_id: int, *, category_id: int) -> Row:
    return {
        "__tablename__": "products",
        "id": product_id,
        "category_id": category_id,
        "name": f"product {product_id}",
        "description": "",
        "price": 100,
        "currency": "XTR",
        "hidden_content": "a key",
        "on_sale": False,
    }


def _unit_row(unit_id: int, *, state: str) -> Row:
    return {
        "__tablename__": "stock_units",
        "id": unit_id,
        "product_id": 15,
        "content": f"KEY-{unit_id:04d}",
        "content_hash": f"{unit_id:064x}",
        "state": state,
    }


def _outbox_row(row_id: int, *, kind: str, state: str) -> Row:
    return {
        "__tablename__": "outbox",
        "id": row_id,
        "kind": kind,
        "chat_id": 7_000_001,
        "state": state,
        "due_at": datetime(2026, 1, 4, 5, 6, 7),
    }


# The rows pytest-alembic inserts when each revision is reached, in that revision's shape. A new
# revision adds its id here (test_every_revision_has_seed_rows asks for it) with rows that use
# what it adds, ids after those already used; [] only when it adds nothing rows could show.
def _order_row(order_id: int, *, provider: str, state: str) -> Row:
    return {
        "__tablename__": "orders",
        "id": order_id,
        "provider": provider,
        "user_id": 1001,
        "product_id": 14,
        "amount": 15000,
        "currency": "RUB",
        "state": state,
        "expires_at": datetime(2026, 1, 5, 6, 30, 0),
    }


SEED: dict[str, list[Row]] = {
    "a8dd0cf26a08": tagged(shop_rows(purchases=30)),
    "489ffa93607c": [
        {"__tablename__": "categories", "id": 4, "name": "Seeded After Soft Delete"},
        {**_product_row(13, category_id=4), "deleted_at": datetime(2026, 1, 2, 3, 4, 5)},
        {**_product_row(14, category_id=4), "form_token": "f" * 32},
    ],
    "5d0c7a1e9b42": [
        {**_product_row(15, category_id=4), "kind": "stock", "hidden_content": ""},
        {
            "__tablename__": "purchases",
            "id": 31,
            "user_id": 1,
            "product_id": 15,
            "amount": 100,
            "currency": "XTR",
            "provider": "telegram_stars",
            "charge_id": "charge-stock-1",
        },
        _unit_row(1, state="available"),
        {
            **_unit_row(2, state="reserved"),
            "reserved_for": 7_000_001,
            "reserved_until": datetime(2026, 1, 2, 3, 4, 5),
        },
        {**_unit_row(3, state="sold"), "purchase_id": 31},
    ],
    "c41f7e2a9d63": [
        {
            "__tablename__": "purchases",
            "id": 32,
            "user_id": 1,
            "product_id": 15,
            "amount": 100,
            "currency": "XTR",
            "provider": "telegram_stars",
            "charge_id": "charge-refunded-1",
            "refunded_at": datetime(2026, 1, 3, 4, 5, 6),
        },
    ],
    "c7d061978b68": [
        {
            **_outbox_row(1, kind="goods", state="sent"),
            "purchase_id": 31,
            "product_id": 15,
            "parts_sent": 2,
            "sent_at": datetime(2026, 1, 4, 5, 6, 7),
        },
        {
            **_outbox_row(2, kind="text", state="pending"),
            "purchase_id": 31,
            "text": "💰 New purchase #31",
            "claimed_by": "host pid=1 abcd0123",
            "claimed_until": datetime(2026, 1, 4, 5, 7, 7),
        },
        {
            **_outbox_row(3, kind="restock", state="failed"),
            "product_id": 15,
            "attempts": 1,
            "error": "TelegramForbiddenError: Forbidden: bot was blocked by the user",
        },
        {
            "__tablename__": "restock_subscriptions",
            "id": 1,
            "product_id": 15,
            "telegram_id": 7_000_002,
        },
    ],
    "dbfb336710c9": [
        {"__tablename__": "users", "id": 1001, "telegram_id": 7_100_001, "language": "ru"},
        {"__tablename__": "users", "id": 1002, "telegram_id": 7_100_002, "language": None},
    ],
    "e3a9c5d17b20": [
        {
            "__tablename__": "purchases",
            "id": 33,
            "user_id": 1001,
            "product_id": 14,
            "amount": 15000,
            "currency": "RUB",
            "provider": "robokassa",
            "charge_id": "robokassa:1",
        },
        # Another provider's payment with the same gateway id: unique per provider.
        {
            "__tablename__": "purchases",
            "id": 34,
            "user_id": 1002,
            "product_id": 14,
            "amount": 15000,
            "currency": "RUB",
            "provider": "cryptopay",
            "charge_id": "cryptopay:1",
        },
        {
            **_order_row(1, provider="robokassa", state="paid"),
            "external_id": "1",
            "purchase_id": 33,
            "paid_at": datetime(2026, 1, 5, 6, 7, 8),
        },
        {
            **_order_row(2, provider="cryptopay", state="created"),
            "external_id": "1",
            "pay_url": "https://t.me/CryptoBot?start=IV1",
        },
        _order_row(3, provider="robokassa", state="expired"),
    ],
    "f4b7c2d91a3e": [
        {
            "__tablename__": "reviews",
            "id": 1,
            "purchase_id": 31,
            "product_id": 15,
            "rating": 5,
            "text": "Отлично — works «as promised» & fast",
        },
        # Stars alone, and one an admin hid.
        {"__tablename__": "reviews", "id": 2, "purchase_id": 33, "product_id": 14, "rating": 1},
        {
            "__tablename__": "reviews",
            "id": 3,
            "purchase_id": 34,
            "product_id": 14,
            "rating": 2,
            "text": "spam",
            "hidden_at": datetime(2026, 1, 6, 7, 8, 9),
        },
    ],
    "0b5e8d3f6a21": [
        {"__tablename__": "promo_codes", "id": 1, "code": "WINTER20", "percent": 20},
        {
            "__tablename__": "promo_codes",
            "id": 3,
            "code": "REF-0A1B2C3D",
            "percent": 10,
            "max_uses": 1,
            "per_user": 1,
            "owner_telegram_id": 7_100_001,
            "earned_by_purchase_id": 34,
        },
        {"__tablename__": "users", "id": 1003, "telegram_id": 7_100_003},
        {"__tablename__": "referrals", "id": 1, "invited_id": 1003, "inviter_id": 1001},
        {
            "__tablename__": "promo_codes",
            "id": 2,
            "code": "KEYS-50",
            "amount": 50,
            "currency": "XTR",
            "product_id": 15,
            "max_uses": 10,
            "per_user": 1,
            "starts_at": datetime(2026, 1, 1),
            "ends_at": datetime(2026, 2, 1),
            "active": False,
        },
        {
            "__tablename__": "promo_uses",
            "id": 1,
            "promo_code_id": 2,
            "telegram_id": 7_000_001,
            "purchase_id": 31,
            "discount": 50,
        },
        {
            "__tablename__": "promo_uses",
            "id": 2,
            "promo_code_id": 1,
            "telegram_id": 7_000_002,
            "held_until": datetime(2026, 1, 7, 8, 9, 10),
        },
        {**_order_row(4, provider="robokassa", state="created"), "promo_code_id": 1},
    ],
    "5c7e9a1b3d24": [
        {**_order_row(5, provider="robokassa", state="created"), "promo_code_id": 2},
    ],
    "b6d8f0a2c4e7": [
        {
            "__tablename__": "users",
            "id": 1005,
            "telegram_id": 7_100_005,
            "blocked_at": datetime(2026, 1, 8, 9, 10, 11),
        },
    ],
    "9d1f3a5c7e20": [
        {
            "__tablename__": "users",
            "id": 1006,
            "telegram_id": 7_100_006,
            "last_seen_at": datetime(2026, 1, 9, 10, 11, 12),
        },
        # One half sent, with a button to a product and its progress message.
        {
            "__tablename__": "broadcasts",
            "id": 1,
            "author_id": 7_000_001,
            "text": "<b>Скидки</b> — sale & more",
            "photo": "AgACAgIAAxkBAAIB",
            "button_text": "Open",
            "button_product_id": 15,
            "audience": "language",
            "audience_value": "ru",
            "state": "sending",
            "total": 2,
            "report_chat_id": 7_000_001,
            "report_message_id": 42,
        },
        {
            "__tablename__": "broadcast_recipients",
            "id": 1,
            "broadcast_id": 1,
            "chat_id": 7_000_002,
            "state": "sent",
        },
        {"__tablename__": "broadcast_recipients", "id": 2, "broadcast_id": 1, "chat_id": 7_100_005},
    ],
    "3e7a9c1f5b42": [
        {
            **_product_row(16, category_id=4),
            "name": "Ключ Ёлки",
            "search_text": "ключ елки\n",
        },
    ],
    "6a2c4e8f0b13": [
        {"__tablename__": "categories", "id": 9, "name": "Photos", "photo": "AgACAgIAAxkBAAIC"},
        {**_product_row(17, category_id=9), "photo": "AgACAgIAAxkBAAID"},
    ],
}


@pytest.fixture
def alembic_config() -> Config:
    return Config(alembic_config=project_alembic_config(), at_revision_data=SEED)


@pytest.fixture
def alembic_engine(database: ThrowawayDatabase) -> Iterator[AsyncEngine]:
    engine = create_engine(database.url, poolclass=NullPool)
    yield engine
    asyncio.run(engine.dispose())


def test_all_models_register_on_metadata(
    alembic_runner: MigrationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-alembic finds the full set of tables through a `MetaData` or a `DeclarativeMeta`
    class in the models' package, and finds that package through a `DeclarativeMeta` too.
    SQLAlchemy 2's `DeclarativeBase` has a metaclass of its own: we let it count as one, and
    name the package."""
    monkeypatch.setattr(
        all_models_register_on_metadata, "DeclarativeMeta", (DeclarativeMeta, type(Base))
    )
    all_models_register_on_metadata.test_all_models_register_on_metadata(
        alembic_runner, model_package="bot.dao"
    )


def test_every_revision_has_seed_rows(alembic_runner: MigrationContext) -> None:
    revisions = set(alembic_runner.history.revisions) - {"base", "heads"}
    assert revisions == set(SEED), "add the new revision's rows to SEED"


def test_seed_rows_are_all_there_at_head(
    alembic_runner: MigrationContext, database: ThrowawayDatabase
) -> None:
    alembic_runner.migrate_up_to("heads")
    expected = Counter(str(row["__tablename__"]) for rows in SEED.values() for row in rows)
    for table, count in expected.items():
        assert fetch_all(database, f"SELECT count(*) FROM {table}") == [(count,)], table


def test_existing_products_become_searchable(
    alembic_runner: MigrationContext, database: ThrowawayDatabase
) -> None:
    """The products a shop has when `search_text` comes are folded by the revision, in every
    language: what /search finds on SQLite too."""
    alembic_runner.migrate_up_before("3e7a9c1f5b42")
    cyrillic = {
        **_product_row(99, category_id=4),
        "name": "Ключ ЁЛКИ",
        "description": "Для Windows",
    }
    del cyrillic["__tablename__"]
    alembic_runner.insert_into("products", cyrillic)
    alembic_runner.migrate_up_one()
    rows = fetch_all(database, "SELECT id, name, description, search_text FROM products")
    assert len(rows) > 1
    for _id, name, description, folded in rows:
        assert folded == f"{name}\n{description}".casefold().replace("ё", "е")
    assert (99, "ключ елки\nдля windows") in [(row[0], row[3]) for row in rows]
