"""The catalog screens' cache (bot.dao.catalog_cache): through the real dispatcher on a real
SQLite file and a real PostgreSQL, and the cache's own rules with a clock of the test's."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dao.catalog import _CARD
from bot.dao.catalog_cache import CatalogCache
from bot.dao.database import create_engine, create_session_factory
from bot.dao.models import Category, Product
from bot.dao.routing import Route
from bot.keyboards.callbacks import Menu, MenuAction
from bot.migration import migrate
from tests.support.databases import ThrowawayDatabase, statements_sent
from tests.support.shop import Chat, Screen, running_shop

CATALOG = Menu(action=MenuAction.CATALOG).pack()


async def browse(chat: Chat, product: str) -> tuple[Screen, Screen, Screen]:
    """The catalog, the category of `product`'s first word, and its card."""
    catalog = (await chat.press(CATALOG)).screen
    page = await chat.tap(catalog, product.split()[0])
    return catalog, page, await chat.tap(page, product)


async def set_price(engine: AsyncEngine, product_id: int, price: int) -> None:
    async with create_session_factory(engine)() as session, session.begin():
        await session.execute(update(Product).where(Product.id == product_id).values(price=price))


async def test_browsing_again_reads_nothing_until_the_catalog_changes_here(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database) as shop:
        product_id = await shop.add_product("Books", name="Books Dune", price=70, currency="XTR")
        ann, bob = shop.chat(1, "Ann"), shop.chat(2, "Bob")
        await ann.send("/start")
        await bob.send("/start")
        await browse(ann, "Books Dune")
        with statements_sent(shop.engine) as sent:
            _, page, card = await browse(bob, "Books Dune")
        assert sent == []  # Ann's reads served Bob's screens
        assert "70" in card.text and "Books" in page.text
        # A change committed in this process shows at once: its commit empties the cache.
        await set_price(shop.engine, product_id, 90)
        card = (await bob.press(page.button("Books Dune"))).screen
        assert "90" in card.text and "70" not in card.text


async def test_another_instances_change_shows_once_the_cache_time_is_over(
    database: ThrowawayDatabase,
) -> None:
    """Another instance (its own engine on the same database) hides a product: this one shows
    it until what it kept is older than its cache time, then says its button is out of date.
    The time is the test's here, so that a slow machine cannot let it run out early."""
    async with running_shop(database) as shop:
        catalog: CatalogCache = shop.dispatcher["catalog"]
        catalog.seconds = 3600
        product_id = await shop.add_product("Games", name="Games Go", price=5, currency="XTR")
        ann = shop.chat(1, "Ann")
        await ann.send("/start")
        _, page, _ = await browse(ann, "Games Go")
        other_instance = create_engine(database.url)
        try:
            async with create_session_factory(other_instance)() as session, session.begin():
                hidden = update(Product).where(Product.id == product_id).values(on_sale=False)
                await session.execute(hidden)
        finally:
            await other_instance.dispose()
        still_kept = await ann.press(page.button("Games Go"))
        assert "Games Go" in still_kept.screen.text
        catalog.seconds = 0.05
        await asyncio.sleep(catalog.seconds)
        gone = await ann.press(page.button("Games Go"))
        assert gone.notice == "This button is out of date."


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_an_entry_is_kept_for_its_seconds_then_read_again() -> None:
    clock = Clock()
    cache = CatalogCache(seconds=1.0, clock=clock)
    reads: list[str] = []

    async def load() -> str:
        reads.append("read")
        return f"value {len(reads)}"

    assert await cache.read("key", load) == "value 1"
    clock.now += 0.99
    assert await cache.read("key", load) == "value 1"
    clock.now += 0.02
    assert await cache.read("key", load) == "value 2"
    assert len(reads) == 2


async def test_a_read_that_overlapped_an_emptying_is_not_kept() -> None:
    """What was read before a change's commit emptied the cache may predate the change."""
    cache = CatalogCache(clock=Clock())
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> str:
        started.set()
        await finish.wait()
        return "before the change"

    reading = asyncio.create_task(cache.read("key", slow_old_read))
    await started.wait()
    cache.empty()  # a change commits meanwhile
    finish.set()
    assert await reading == "before the change"  # its caller gets it, as from the database

    async def fresh_read() -> str:
        return "after the change"

    assert await cache.read("key", fresh_read) == "after the change"


async def test_forged_keys_cannot_grow_the_cache_past_its_bound() -> None:
    cache = CatalogCache(entries=3, clock=Clock())

    async def nothing() -> None:
        return None

    for product_id in range(10):  # cards of products that do not exist
        await cache.read(("card", product_id), nothing)
    assert len(cache._kept) == 3
    assert list(cache._kept) == [("card", 7), ("card", 8), ("card", 9)]  # the newest stay


async def test_catalog_reads_never_go_to_a_lagging_replica(engine: AsyncEngine) -> None:
    """What the cache keeps is read from the primary; other plain reads still go to the
    replica, and the session does not move to the primary for it."""
    primary, replica = engine.sync_engine, engine.execution_options().sync_engine
    route = Route(primary, replica, latest=primary)
    assert route.bind_for(_CARD, flushing=False) is primary
    assert route.bind_for(select(Product), flushing=False) is replica
    assert not route.on_primary


async def test_a_catalog_commit_empties_the_cache_again_when_its_connection_goes_back(
    engine: AsyncEngine,
) -> None:
    """What was read while the commit was under way may predate it: emptied once more when
    the committing connection is given back. A rolled back change empties nothing."""
    await migrate(engine)
    cache = CatalogCache()
    cache.watch(engine)
    loads: list[str] = []

    async def load() -> str:
        loads.append("read")
        return f"read {len(loads)}"

    add_category = insert(Category).values(name="Music")
    async with engine.connect() as connection:
        await connection.execute(add_category)
        await connection.rollback()
        await cache.read("key", load)
        await connection.execute(select(Category.id))
        await connection.commit()  # no catalog write in this transaction: nothing emptied
        assert await cache.read("key", load) == "read 1"

        await connection.execute(add_category)
        await connection.commit()
        assert await cache.read("key", load) == "read 2"  # emptied as the commit was sent
    assert await cache.read("key", load) == "read 3"  # and again as the connection went back
    assert await cache.read("key", load) == "read 3"
