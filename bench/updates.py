"""Updates per second and latency of update handling through the real dispatcher, with and
without the database work.

`bot.app.build_dispatcher` as the bot builds it (DB session middleware, every router, memory
FSM storage), fed with `Dispatcher.feed_update` (not through the fake Bot API: no HTTP, less
noise) with a Bot whose session is the tests' fake Telegram (`tests.fakes.RecordingSession`):
every Bot API call serialised, answered and parsed in-process as over HTTP. The mix, per user:
/start (upsert of the user), then the catalog: categories, a page of products, a product card.

Compared in the same run with the same dispatcher without any DB work: the DAOs the handlers
reach through the middleware's `Shop` are canned ones returning the same catalog, and the
middleware's session is a no-op, so only the database round trips and the ORM's work are
taken away.
Sequential (one update at a time) gives latency; 8 in flight stands for polling, which runs
handlers as concurrent tasks. Two extra rows serve today's code from the engines as they were
before issue 15, with a transaction around every update: PostgreSQL with a ping at every
checkout, SQLite with a connection per update (NullPool) and SQLAlchemy's own aiosqlite
adapter. After the warm-up the heap is frozen, as the bot does once started (bot.serving.heap).
A sequential pass per database counts its round trips by kind of update; `--profile` adds
one sequential batch per database under cProfile, its own time grouped by package.

    .venv/bin/python -m bench.updates [--repeat 3] [--backend sqlite] [--updates 800] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Self

import aiosqlite
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bench._common import (
    TEST_TOKEN,
    median,
    ms,
    parse_args,
    percentile,
    prepare_process,
    print_header,
    print_table,
    throwaway_database,
    timed_migrate,
)
from bench._costs import ROUND_TRIPS, RoundTrips, own_time_by_area, profiled
from bot.app import build_dispatcher, reads_apart
from bot.config import Settings
from bot.dao.catalog import ProductView
from bot.dao.catalog_cache import CatalogCache
from bot.dao.database import (
    BEGIN_IMMEDIATE,
    create_engine,
    create_session_factory,
    serving_session_factory,
)
from bot.dao.models import Category, Product, User
from bot.dao.paging import Page
from bot.dao.reviews import ReviewSummary
from bot.dao.routing import ReadRouting
from bot.keyboards.callbacks import CategoryPage, Menu, MenuAction, ProductCard
from bot.middlewares.database import DatabaseSessionMiddleware
from bot.middlewares.languages import LanguageCache, UserLanguageMiddleware
from bot.migration import MigrationOptions
from bot.serving.heap import freeze_startup_heap
from bot.serving.startup import SchemaMode
from bot.shop import Shop
from tests.fakes import FakeTelegram, RecordingSession

CATEGORIES = 5
PRODUCTS_PER_CATEGORY = 20
USERS = 200
CONCURRENCY = {"sequential": 1, "8 in flight": 8}
NO_DB = "no DB"
# The cost of speaking the user's language: the no-DB dispatcher with Russian users (every
# text looked up in the Russian catalog) against the same without the language middleware.
NO_DB_RUSSIAN = "no DB, Russian users"
NO_DB_NO_I18N = "no DB, no i18n"


@dataclass(frozen=True)
class Serving:
    """A row's database, and whether updates are served from it as the bot serves them or
    as it did before issue 15 (`ENGINES_BEFORE`, and a transaction around every update)."""

    backend: str
    before: bool = False


DATABASES: dict[str, Serving] = {
    "postgresql": Serving("postgresql"),
    "postgresql, engine before": Serving("postgresql", before=True),
    "sqlite": Serving("sqlite"),
    "sqlite, engine before": Serving("sqlite", before=True),
}
# The engines before issue 15: a ping at every checkout; a connection per update and
# SQLAlchemy's own aiosqlite adapter (four trips to the driver's thread per statement).
ENGINES_BEFORE: dict[str, dict[str, Any]] = {
    "postgresql": {"pool_pre_ping": True},
    "sqlite": {"poolclass": NullPool, "module": AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)},
}
UPDATES_PER_BATCH = 800
WARM_UP_UPDATES = 100
# What each step of a user's turn in the mix is, in order.
KINDS = ("/start", "catalog", "category page", "product card")
COUNTED_UPDATES = 40  # a sequential pass whose round trips are counted, per database


# ---------------------------------------------------------------------------- the catalog


def catalog_rows() -> tuple[list[Category], list[Product]]:
    """Fresh instances each call: one set seeds a database, another feeds the canned DAOs."""
    categories = [
        Category(id=index, name=f"Category {index}") for index in range(1, 1 + CATEGORIES)
    ]
    products = [
        Product(
            id=category.id * 100 + number,
            category_id=category.id,
            category=category,
            name=f"Product {category.id}-{number:02d}",
            description="A digital good for the benchmark.",
            price=100 + number,
            currency="XTR",
            hidden_content="the secret",
            on_sale=True,
        )
        for category in categories
        for number in range(PRODUCTS_PER_CATEGORY)
    ]
    return categories, products


class CannedCatalog:
    """What the catalog DAOs return, without a database: the same rows as the seeded one."""

    def __init__(self) -> None:
        categories, products = catalog_rows()
        self.categories = {category.id: category for category in categories}
        self.products = {product.id: product for product in products}
        self.by_category = {
            category.id: sorted(
                (product for product in products if product.category_id == category.id),
                key=lambda product: (product.name, product.id),
            )
            for category in categories
        }

    def shop(self, session: object) -> Shop:
        """The middleware's `Shop` for the no-DB baseline: users and the catalog answer from
        these rows; nothing the mix does touches purchases or statistics."""
        return Shop(
            users=CannedUsers(),  # type: ignore[arg-type]
            categories=CannedCategories(self),  # type: ignore[arg-type]
            products=CannedProducts(self),  # type: ignore[arg-type]
            purchases=None,  # type: ignore[arg-type]
            stats=None,  # type: ignore[arg-type]
            reviews=CannedReviews(),  # type: ignore[arg-type]
            promo_codes=CannedPromoCodes(),  # type: ignore[arg-type]
        )


class CannedCategories:
    def __init__(self, canned: CannedCatalog) -> None:
        self.canned = canned

    async def on_sale(self) -> list[tuple[Category, int]]:
        canned = self.canned
        return [(c, len(canned.by_category[c.id])) for c in canned.categories.values()]

    async def get(self, category_id: int) -> Category | None:
        return self.canned.categories.get(category_id)


class CannedProducts:
    def __init__(self, canned: CannedCatalog) -> None:
        self.canned = canned

    async def page_on_sale(self, category_id: int, number: int, size: int) -> Page[Product]:
        rows = self.canned.by_category[category_id]
        items = rows[number * size : (number + 1) * size]
        return Page(items=items, number=number, size=size, total=len(rows))

    async def card(self, product_id: int) -> ProductView | None:
        product = self.canned.products.get(product_id)
        return None if product is None else ProductView.of(product)


class CannedReviews:
    async def summary(self, product_id: int) -> ReviewSummary:
        return ReviewSummary(count=0, average=None)


class CannedPromoCodes:
    async def any_on(self) -> bool:
        return False


class CannedUsers:
    async def register(self, telegram_id: int, **names: str | None) -> User:
        return User(id=telegram_id, telegram_id=telegram_id, **names)

    async def language_of(self, telegram_id: int) -> str | None:
        return None


class NullSession:
    """The middleware's session when no DAO touches it: opening and committing do nothing."""

    def __init__(self, **_options: object) -> None:
        """Takes what the middleware passes a session factory (e.g. `info`), and ignores it."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def begin(self) -> Self:
        return self

    def in_transaction(self) -> bool:
        return False

    async def commit(self) -> None:
        return None


# ---------------------------------------------------------------------------- the updates


def update_mix(bot: Bot, count: int, first_id: int, language: str) -> list[Update]:
    """Per user in turn: /start, the catalog, a page of a category, a product card, from
    Telegram clients in `language`."""
    raw: list[dict[str, Any]] = []
    for index in range(count):
        user_id = 10_000 + (index // 4) % USERS
        category = 1 + (index // 4) % CATEGORIES
        page = (index // 4) % 4
        sender = {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "language_code": language,
        }
        chat = {"id": user_id, "type": "private", "first_name": sender["first_name"]}
        date = int(time.time())
        step = index % 4
        if step == 0:
            message = {"message_id": index, "date": date, "chat": chat, "from": sender}
            message |= {
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
            raw.append({"message": message})
            continue
        data = [
            Menu(action=MenuAction.CATALOG),
            CategoryPage(category_id=category, page=page),
            ProductCard(product_id=category * 100 + page * 5, page=page),
        ][step - 1].pack()
        # A message id of its own: Telegram refuses an edit that changes nothing.
        shown = {"message_id": first_id + index, "date": date, "chat": chat, "text": "menu"}
        query = {"id": f"q{index}", "from": sender, "chat_instance": "c", "data": data}
        raw.append({"callback_query": query | {"message": shown}})
    return [
        Update.model_validate({"update_id": first_id + index, **body}, context={"bot": bot})
        for index, body in enumerate(raw)
    ]


@dataclass
class Batch:
    seconds: float
    latencies: list[float]
    errors: int
    # with round trips counted: per kind of update, what its updates sent the database
    trips: dict[str, Counter[str]] = field(default_factory=dict)


async def feed(
    dispatcher: Dispatcher,
    bot: Bot,
    updates: Sequence[Update],
    in_flight: int,
    trips: RoundTrips | None = None,
) -> Batch:
    """`trips` (sequential only): count each update's round trips, by its kind."""
    assert trips is None or in_flight == 1
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []
    errors = 0
    by_kind: dict[str, Counter[str]] = {}

    async def one(index: int, update: Update) -> None:
        nonlocal errors
        async with gate:
            before = trips.snapshot() if trips is not None else None
            started = time.perf_counter()
            try:
                await dispatcher.feed_update(bot, update)
            except Exception:
                errors += 1
            latencies.append(time.perf_counter() - started)
            if trips is not None and before is not None:
                kind = by_kind.setdefault(KINDS[index % len(KINDS)], Counter())
                kind.update(trips.snapshot() - before)

    started = time.perf_counter()
    await asyncio.gather(*(one(index, update) for index, update in enumerate(updates)))
    return Batch(time.perf_counter() - started, latencies, errors, by_kind)


# ---------------------------------------------------------------------------- the variants


@dataclass
class Variant:
    """One way of serving the same dispatcher: its middleware's session factory and what
    builds the handlers' `Shop` (the bot's, with its catalog cache; for the engines before,
    without; for the no-DB baseline, the canned DAOs)."""

    name: str
    sessions: Callable[..., object]
    shops: Callable[[Any], Shop] = Shop.on  # the middleware's `shop_factory`
    engine: AsyncEngine | None = None
    reads: ReadRouting | None = None  # where the update's reads go, as the bot routes them
    client_language: str = "en"
    i18n: bool = True  # the language middleware in place


@dataclass
class Bench:
    dispatcher: Dispatcher
    middleware: DatabaseSessionMiddleware
    languages: UserLanguageMiddleware
    bot: Bot
    telegram: FakeTelegram
    next_id: int = 1

    async def run(
        self, variant: Variant, count: int, in_flight: int, trips: RoundTrips | None = None
    ) -> Batch:
        updates = update_mix(self.bot, count, self.next_id, variant.client_language)
        self.next_id += count
        self.middleware.session_factory = variant.sessions  # type: ignore[assignment]
        self.middleware.shop_factory = variant.shops
        self.middleware.reads = variant.reads
        self.languages.cache = LanguageCache()  # each batch finds its users anew
        outer = self.dispatcher.update.outer_middleware
        if not variant.i18n:
            outer.unregister(self.languages)
        mark = self.telegram.mark()
        try:
            batch = await feed(self.dispatcher, self.bot, updates, in_flight, trips)
        finally:
            if not variant.i18n:
                outer.register(self.languages)
        # Every /start answers once, every button edits its screen (a stale one would not).
        made = Counter(call.method for call in self.telegram.calls[mark:])
        screens = count - count // 4
        expected = Counter(sendMessage=count // 4, editMessageText=screens)
        expected["answerCallbackQuery"] = screens
        if made != expected or batch.errors:
            raise RuntimeError(f"{variant.name}: {batch.errors} errors, Bot API calls {made}")
        return batch


def settings_for(url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, bot_token=TEST_TOKEN, database_url=url, catalog_page_size=5
    )


def build_bench() -> Bench:
    """The dispatcher as the bot builds it; its engine is never used, the variants bring theirs."""
    url = "sqlite+aiosqlite://"
    engine = create_engine(make_url(url))
    dispatcher = build_dispatcher(settings_for(url), engine, SchemaMode.MIGRATE)
    outer = list(dispatcher.update.outer_middleware)
    middleware = next(m for m in outer if isinstance(m, DatabaseSessionMiddleware))
    languages = next(m for m in outer if isinstance(m, UserLanguageMiddleware))
    telegram = FakeTelegram()
    bot = Bot(token=TEST_TOKEN, session=RecordingSession(telegram))
    return Bench(dispatcher, middleware, languages, bot, telegram)


@asynccontextmanager
async def database_variant(name: str, url_string: str, serving: Serving) -> AsyncIterator[Variant]:
    """A database at head, seeded with the catalog."""
    url = settings_for(url_string).database
    await timed_migrate(url, MigrationOptions())
    engine = create_engine(url, **(ENGINES_BEFORE[serving.backend] if serving.before else {}))
    try:
        plain_sessions = create_session_factory(engine)
        async with plain_sessions() as session, session.begin():
            categories, products = catalog_rows()
            session.add_all([*categories, *products])
        if serving.before:  # a transaction around every update (SQLite: the write lock)
            every_update_writing = engine.execution_options(**{BEGIN_IMMEDIATE: True})
            yield Variant(name, create_session_factory(every_update_writing), engine=engine)
            return
        # The bot's own update sessions: reads outside any transaction until the first write,
        # which begins one (on SQLite taking the write lock at BEGIN); its catalog cache.
        reads = reads_apart(engine)
        catalog = CatalogCache()
        catalog.watch(engine)
        shops = partial(Shop.on, catalog=catalog)
        yield Variant(name, serving_session_factory(engine), shops, engine=engine, reads=reads)
    finally:
        await engine.dispose()


@dataclass
class Measured:
    batches: dict[tuple[str, str], list[Batch]]
    # per database: its round trips per update, by kind of update
    trips: dict[str, dict[str, dict[str, float]]]
    # per variant, with --profile: seconds of own time per area of the stack, per update
    profiles: dict[str, dict[str, float]]


async def count_round_trips(bench: Bench, variant: Variant) -> dict[str, dict[str, float]]:
    assert variant.engine is not None
    with RoundTrips().watching(variant.engine) as trips:
        batch = await bench.run(variant, COUNTED_UPDATES, 1, trips)
    each = COUNTED_UPDATES // len(KINDS)
    return {
        kind: {name: counts[name] / each for name in ROUND_TRIPS}
        for kind, counts in batch.trips.items()
    }


async def profile_variant(bench: Bench, variant: Variant, count: int) -> dict[str, float]:
    """One sequential batch under cProfile: own time per area, per update."""
    gc.collect()
    with profiled() as profile:
        await bench.run(variant, count, 1)
    return {area: seconds / count for area, seconds in own_time_by_area(profile).items()}


async def measure(
    databases: Mapping[str, tuple[str, Serving]],
    repeat: int,
    count: int,
    *,
    profile: bool = False,
) -> Measured:
    bench = build_bench()
    measured = Measured({}, {}, {})
    async with AsyncExitStack() as stack:
        variants = [
            await stack.enter_async_context(database_variant(name, url, serving))
            for name, (url, serving) in databases.items()
        ]
        canned = CannedCatalog()
        variants += [
            Variant(NO_DB, NullSession, canned.shop),
            Variant(NO_DB_RUSSIAN, NullSession, canned.shop, client_language="ru"),
            Variant(NO_DB_NO_I18N, NullSession, canned.shop, i18n=False),
        ]
        for variant in variants:  # warm-up: pools, caches, each statement's first compile
            await bench.run(variant, min(count, WARM_UP_UPDATES), 8)
        await freeze_startup_heap()  # as the bot does once started
        for variant in variants:
            if variant.engine is not None:
                measured.trips[variant.name] = await count_round_trips(bench, variant)
        if profile:
            for variant in variants:
                if variant.name not in (NO_DB_RUSSIAN, NO_DB_NO_I18N):
                    measured.profiles[variant.name] = await profile_variant(bench, variant, count)
        # Each round runs every variant back to back, so that a ratio is taken between
        # batches of one round: the machine's load drifts between rounds. Each round starts
        # at the next variant, so that none always follows the same one.
        for round_number in range(repeat):
            start = round_number % len(variants)
            for mode, in_flight in CONCURRENCY.items():
                for variant in variants[start:] + variants[:start]:
                    gc.collect()  # what the batch before left is not this one's to collect
                    batch = await bench.run(variant, count, in_flight)
                    measured.batches.setdefault((variant.name, mode), []).append(batch)
    return measured


def add_own_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--updates",
        type=int,
        default=UPDATES_PER_BATCH,
        help=f"updates per batch, a multiple of 4 (default {UPDATES_PER_BATCH})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one sequential batch per database (cProfile) and print where "
        "the time goes",
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3, add_own=add_own_flags)
    count = args.updates
    prepare_process()
    print_header(
        "Update handling through the real dispatcher",
        f"Dispatcher.feed_update, {count} updates per batch, medians over "
        f"{args.repeat} rounds (a ratio: the median of each round's own); latency is the "
        "time inside feed_update.",
    )
    with (
        tempfile.TemporaryDirectory(prefix="shopbot-bench-updates-") as scratch,
        ExitStack() as stack,
    ):
        databases = {
            name: (
                stack.enter_context(throwaway_database(serving.backend, Path(scratch))).url_string,
                serving,
            )
            for name, serving in DATABASES.items()
            if serving.backend in args.backends
        }
        measured = asyncio.run(measure(databases, args.repeat, count, profile=args.profile))
    results = measured.batches
    rows = []

    def rate(batches: list[Batch]) -> float:
        return median([count / batch.seconds for batch in batches])

    def ratio(batches: list[Batch], baselines: list[Batch]) -> str:
        """The median, over the rounds, of each round's ratio to its own baseline."""
        rounds = zip(batches, baselines, strict=True)
        ratios = [base.seconds / batch.seconds for batch, base in rounds]
        return f"{median(ratios):.2f}x"

    for (name, mode), batches in results.items():
        latencies = [latency for batch in batches for latency in batch.latencies]
        rows.append(
            [
                name,
                mode,
                f"{rate(batches):.0f}",
                ratio(batches, results[NO_DB, mode]),
                ms(percentile(latencies, 0.5)),
                ms(percentile(latencies, 0.99)),
                sum(batch.errors for batch in batches),
            ]
        )
    print_table(["database", "mode", "updates/s", "vs no DB", "p50 ms", "p99 ms", "errors"], rows)
    translated = [
        [
            mode,
            f"{rate(results[NO_DB_RUSSIAN, mode]):.0f}",
            f"{rate(results[NO_DB_NO_I18N, mode]):.0f}",
            ratio(results[NO_DB_RUSSIAN, mode], results[NO_DB_NO_I18N, mode]),
        ]
        for mode in CONCURRENCY
    ]
    print_table(["mode", "Russian users/s", "no i18n/s", "translated vs not"], translated)
    print_round_trips(measured.trips)
    if measured.profiles:
        print_profile(measured.profiles)


def print_round_trips(trips: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
    rows = [
        [name, kind, *(f"{counts[trip]:g}" for trip in ROUND_TRIPS)]
        for name, by_kind in trips.items()
        for kind, counts in by_kind.items()
    ]
    print("Database round trips per update, by kind (a sequential pass):\n")
    print_table(["database", "update", *ROUND_TRIPS], rows)


def print_profile(profiles: Mapping[str, Mapping[str, float]]) -> None:
    """Own time per area of the stack, in ms per update, the largest areas first."""
    names = list(profiles)
    areas = sorted(
        {area for profile in profiles.values() for area in profile},
        key=lambda area: -max(profile.get(area, 0.0) for profile in profiles.values()),
    )
    rows = [[area, *(ms(profiles[name].get(area, 0.0)) for name in names)] for area in areas]
    rows.append(["total", *(ms(sum(profiles[name].values())) for name in names)])
    print("Own time per update under cProfile, ms (profiling inflates Python, not waiting):\n")
    print_table(["area", *names], rows)


if __name__ == "__main__":
    main()
