"""DATABASE_READ_URL: updates read from a real hot standby and write to the primary, in-process.

The replica is a real `pg_basebackup -R` standby (tests/scripts/pg_replica.sh). Which server
ran a statement is read from SQLAlchemy's cursor events on each engine. The replica's watch
(`ReplicaReads.check`, once a second in the bot) is called by the tests themselves, so each
step is decided, not timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.dao.database import create_engine
from bot.dao.models import Purchase, User
from bot.migration import MigrationOptions, migrate
from bot.migration.connect import describe
from bot.serving.replica import ReplicaReads, Standing, verify_replica
from tests.migrations_testonly.scenarios import scenario
from tests.support.books import BUYER, pay_for_book
from tests.support.databases import statements_sent
from tests.support.processes import TEST_TOKEN
from tests.support.replica import Database, ReplicaPair, in_step
from tests.support.shop import Screen, ShopBot, running_shop

pytestmark = pytest.mark.slow  # the replica pair is made once per session, in seconds

BROWSER = 5002  # a customer who only browses


@asynccontextmanager
async def replicated_shop(replicated: Database, max_lag: float = 30.0) -> AsyncIterator[ShopBot]:
    async with running_shop(
        replicated.primary,
        database_read_url=replicated.replica.url_string,
        read_replica_max_lag=max_lag,
    ) as shop:
        yield shop


def reads_of(shop: ShopBot) -> ReplicaReads:
    replica: ReplicaReads = shop.dispatcher["replica"]
    return replica


async def back_on_the_replica(
    shop: ShopBot, reads: ReplicaReads, menu: Screen, fell_back_because: str
) -> None:
    """Once the replica is in step again a browser's purchases are read from it, and the
    fallback before was logged once, with its reason."""
    await in_step(reads)
    with both(reads) as (primary, replica):
        await shop.chat(BROWSER).tap(menu, "My purchases")
    assert touching(replica, "purchases") and primary == []
    falls = [line for line in shop.log if "reads fall back to the primary" in line]
    assert len(falls) == 1 and fell_back_because in falls[0]


@asynccontextmanager
async def replay_paused(reads: ReplicaReads) -> AsyncIterator[None]:
    """The replica keeps receiving the primary's changes but applies none until the block
    ends: it falls behind for as long as the block lasts."""
    async with reads.replica.connect() as conn:
        await conn.execute(text("SELECT pg_wal_replay_pause()"))
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_wal_replay_resume()"))


@contextmanager
def both(reads: ReplicaReads) -> Iterator[tuple[list[str], list[str]]]:
    """(the primary's statements, the replica's) while the block runs."""
    with statements_sent(reads.primary) as primary, statements_sent(reads.replica) as replica:
        yield primary, replica


def touching(sent: list[str], table: str) -> list[str]:
    return [statement for statement in sent if f"FROM {table}" in statement or table in statement]


async def test_a_new_user_is_stored_on_the_primary_then_browses_the_replica(
    replicated: Database,
) -> None:
    async with replicated_shop(replicated) as shop:
        reads = reads_of(shop)
        await shop.add_product("E-books", name="Python Tricks", price=150, currency="XTR")
        await in_step(reads)
        chat = shop.chat(BUYER, "Ann")

        with both(reads) as (primary, replica):
            menu = await chat.send("/start")
        assert "Hello, Ann!" in menu.text
        assert any(statement.startswith("INSERT INTO users") for statement in primary)
        [user] = await shop.rows(User, User.telegram_id == BUYER)  # read on the primary
        assert user.first_name == "Ann"

        # Their own row is not on the replica yet as far as the bot knows: they stay on the
        # primary until the replica has replayed a position taken after their write.
        with both(reads) as (primary, replica):
            await chat.tap(menu, "My purchases")
        assert touching(primary, "purchases") and not replica

        await in_step(reads)
        with both(reads) as (primary, replica):
            await chat.tap(menu, "My purchases")
        assert touching(replica, "purchases") and primary == []

        # The catalog is read from the primary, whose latest commit it keeps for a moment
        # (bot.dao.catalog_cache): a replica's lag would be kept with it. Then it is kept.
        with both(reads) as (primary, replica):
            catalog = await chat.tap(menu, "Catalog")
            products = await chat.tap(catalog, "E-books")
            await chat.tap(products, "Python Tricks")
        assert touching(primary, "categories") and touching(primary, "products")
        assert replica == []
        with both(reads) as (primary, replica):
            await chat.tap(products, "Python Tricks")
        assert primary == replica == []


async def test_a_purchase_shows_in_the_profile_at_once_while_the_replica_replays_nothing(
    replicated: Database,
) -> None:
    async with replicated_shop(replicated) as shop:
        reads = reads_of(shop)
        browser = shop.chat(BROWSER)
        menu = await browser.send("/start")
        buyer_menu = await shop.chat(BUYER).send("/start")
        await in_step(reads)

        async with replay_paused(reads):
            await pay_for_book(shop)  # the purchase and the book: only on the primary
            assert (await reads.check()).usable  # behind, but within READ_REPLICA_MAX_LAG

            with both(reads) as (primary, replica):
                profile = await shop.chat(BUYER).tap(buyer_menu, "My purchases")
            assert "Python Tricks" in profile.text
            assert touching(primary, "purchases") and replica == []

            # Someone who wrote nothing still reads the replica, which has no purchase yet.
            with both(reads) as (primary, replica):
                profile = await browser.tap(menu, "My purchases")
            assert touching(replica, "purchases") and primary == []
            assert "no purchases yet" in profile.text
            # The catalog is the primary's, as it stands: the new book is in it.
            with both(reads) as (primary, replica):
                catalog = await browser.tap(menu, "Catalog")
            assert touching(primary, "categories") and replica == []
            assert any("E-books" in label for label in catalog.labels)

        await in_step(reads)
        assert len(await shop.rows(Purchase)) == 1


async def test_a_lagging_replica_is_left_until_it_catches_up(replicated: Database) -> None:
    async with replicated_shop(replicated, max_lag=0.5) as shop:
        reads = reads_of(shop)
        menu = await shop.chat(BROWSER).send("/start")
        await in_step(reads)

        async with replay_paused(reads):
            await shop.add_product("E-books", name="Python Tricks", price=150, currency="XTR")
            await reads.check()  # the primary's new position: the replica has not reached it
            await asyncio.sleep(0.6)
            assert (await reads.check()).standing is Standing.LAGGING
            with both(reads) as (primary, replica):
                catalog = await shop.chat(BROWSER).tap(menu, "Catalog")
            assert any("E-books" in label for label in catalog.labels)  # the primary's answer
            assert touching(primary, "categories") and replica == []

        await back_on_the_replica(shop, reads, menu, "behind, more than READ_REPLICA_MAX_LAG=0.5s")
        assert any("reads go to the replica" in line for line in shop.log)


async def test_a_replica_down_leaves_reads_on_the_primary_and_is_used_again_once_back(
    replicated: Database, pair: ReplicaPair
) -> None:
    async with replicated_shop(replicated) as shop:
        reads = reads_of(shop)
        await shop.add_product("E-books", name="Python Tricks", price=150, currency="XTR")
        menu = await shop.chat(BROWSER).send("/start")
        await in_step(reads)

        with pair.replica_stopped():
            assert (await reads.check()).standing is Standing.UNREACHABLE
            assert (await reads.check()).standing is Standing.UNREACHABLE  # logged once
            catalog = await shop.chat(BROWSER).tap(menu, "Catalog")
            assert any("E-books" in label for label in catalog.labels)

        await back_on_the_replica(shop, reads, menu, "unreachable")


def test_a_read_replica_needs_postgresql_on_both_sides() -> None:
    def settings(**values: str) -> Settings:
        return Settings(_env_file=None, bot_token=TEST_TOKEN, **values)  # type: ignore[call-arg]

    with pytest.raises(ValueError, match="expected a PostgreSQL URL of a hot standby"):
        settings(
            database_url="postgresql://p@db/shop", database_read_url="sqlite:///data/x.sqlite3"
        )
    with pytest.raises(ValueError, match="need DATABASE_URL on PostgreSQL"):
        settings(database_read_url="postgresql://r@replica/shop")
    masked = settings(
        database_url="postgresql://p@db/shop",
        database_read_url="postgresql://reader:Repl1ca-secret@replica/shop",
    )
    assert "Repl1ca-secret" in masked.secrets
    assert masked.database_read is not None
    assert masked.database_read.drivername == "postgresql+asyncpg"


@pytest.fixture
async def engines(replicated: Database) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    primary, replica = create_engine(replicated.primary.url), create_engine(replicated.replica.url)
    try:
        yield primary, replica
    finally:
        await primary.dispose()
        await replica.dispose()


async def test_at_start_the_replica_is_waited_for_until_it_replays_the_head(
    engines: tuple[AsyncEngine, AsyncEngine], tmp_path: Path, log: list[str]
) -> None:
    primary, replica = engines
    reads = ReplicaReads(primary, replica, max_lag=5)
    options = MigrationOptions(
        extra_version_locations=(scenario("counter", into=tmp_path),), schema_wait_timeout=60
    )
    await migrate(primary)
    await in_step(reads)

    async with replay_paused(reads):
        await migrate(primary, options)  # three more revisions, on the primary only for now
        waiting = asyncio.create_task(verify_replica(reads, options))
        await asyncio.sleep(1.5)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 30)

    waits = [line for line in log if "waiting for the schema to reach head" in line]
    assert waits and "count3" in waits[0]
    assert any(f"schema verified on {describe(replica)}" in line for line in log)
    assert not any("reads stay on the primary" in line for line in log)


async def test_a_replica_down_at_start_leaves_reads_on_the_primary(
    engines: tuple[AsyncEngine, AsyncEngine], pair: ReplicaPair, log: list[str]
) -> None:
    primary, replica = engines
    reads = ReplicaReads(primary, replica, max_lag=5)
    await migrate(primary)
    with pair.replica_stopped():
        await verify_replica(reads, MigrationOptions(schema_wait_timeout=60))
        assert (await reads.check()).standing is Standing.UNREACHABLE
    [line] = [line for line in log if "reads stay on the primary for now" in line]
    assert describe(replica) in line
