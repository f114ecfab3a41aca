"""The shop's queries and use cases on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import migration
from bot.dao.catalog import CategoryDAO, ProductDAO
from bot.dao.database import create_session_factory, serving_session_factory
from bot.dao.models import Category, Product, Purchase, User
from bot.dao.purchases import PurchaseDAO
from bot.dao.stats import Periods, StatsDAO
from bot.dao.users import UserDAO
from bot.shop import Shop
from bot.shop.catalog import Removal, delete_if_empty, remove_product
from bot.shop.customers import Customer
from bot.shop.delivery import Goods, owned_goods
from bot.shop.invoices import build_payload
from bot.shop.purchases import Duplicate, Payment, Recorded, Unmatched, record_payment


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    await migration.migrate(engine)
    async with create_session_factory(engine)() as session, session.begin():
        yield session


async def add_product(
    session: AsyncSession, category: Category, name: str, *, price: int = 100, currency: str = "XTR"
) -> Product:
    return await ProductDAO(session).create(
        category_id=category.id,
        name=name,
        description="",
        price=price,
        currency=currency,
        file_id=None,
        hidden_content="content",
    )


async def new_category(session: AsyncSession, name: str) -> Category:
    category = await CategoryDAO(session).create(name)
    assert category is not None
    return category


async def new_user(session: AsyncSession, telegram_id: int) -> User:
    return await UserDAO(session).register(
        telegram_id, username=None, first_name="T", last_name=None
    )


def purchase_of(user: User, product: Product, charge_id: str, **fields: object) -> Purchase:
    values = {"amount": product.price, "currency": product.currency, "provider": "telegram_stars"}
    return Purchase(
        user_id=user.id, product_id=product.id, charge_id=charge_id, **(values | fields)
    )


async def test_catalog_lists_only_products_on_sale_page_by_page(session: AsyncSession) -> None:
    books = await new_category(session, "Books")
    hidden_only = await new_category(session, "Drafts")
    await new_category(session, "Empty")
    for number in range(7):
        await add_product(session, books, f"Book {number}")
    hidden = await add_product(session, hidden_only, "Secret")
    await ProductDAO(session).set_on_sale(hidden, False)

    listed = await CategoryDAO(session).on_sale()
    assert [(category.name, count) for category, count in listed] == [("Books", 7)]
    everything = await CategoryDAO(session).all()
    assert [(category.name, count) for category, count in everything] == [
        ("Books", 7),
        ("Drafts", 1),
        ("Empty", 0),
    ]
    products = ProductDAO(session)
    first, last, past = [await products.page_on_sale(books.id, n, 3) for n in (0, 2, 3)]
    assert [p.name for p in first.items] == ["Book 0", "Book 1", "Book 2"]
    assert (first.pages, first.has_previous, first.has_next) == (3, False, True)
    assert ([p.name for p in last.items], last.has_previous, last.has_next) == (
        ["Book 6"],
        True,
        False,
    )
    assert (list(past.items), past.exists) == ([], False)
    assert (await products.page_on_sale(hidden_only.id, 0, 3)).total == 0
    assert await products.on_sale(hidden.id) is None
    assert await products.get(hidden.id) is hidden


async def test_category_names_are_unique_case_insensitively_without_errors(
    session: AsyncSession,
) -> None:
    categories = CategoryDAO(session)
    books = await new_category(session, "Книги")
    assert await categories.create("КНИГИ") is None
    assert await categories.create("Книги") is None
    courses = await new_category(session, "Courses")
    assert await categories.rename(courses, "книги") is False
    assert await categories.rename(courses, "Video courses") is True
    assert await categories.rename(books, "Книги") is True  # its own name is not "taken"
    names = await session.scalars(select(Category.name).order_by(Category.name))
    assert list(names) == ["Video courses", "Книги"]


async def test_only_an_empty_category_is_deleted(session: AsyncSession) -> None:
    categories = CategoryDAO(session)
    books = await new_category(session, "Books")
    empty = await new_category(session, "Empty")
    await add_product(session, books, "Book")
    assert await delete_if_empty(Shop.on(session), books) == 1
    assert await delete_if_empty(Shop.on(session), empty) == 0
    assert await categories.get(empty.id) is None
    assert await categories.get(books.id) is books


async def test_a_bought_product_is_hidden_never_deleted(session: AsyncSession) -> None:
    books = await new_category(session, "Books")
    bought = await add_product(session, books, "Bought")
    unsold = await add_product(session, books, "Unsold")
    session.add(purchase_of(await new_user(session, 1), bought, "charge-1"))
    await session.flush()
    products = ProductDAO(session)

    assert await remove_product(Shop.on(session), bought) is Removal.HIDDEN
    assert await remove_product(Shop.on(session), unsold) is Removal.DELETED
    assert await products.get(unsold.id) is None
    kept = await products.get(bought.id)
    assert kept is not None and not kept.on_sale


async def test_a_charge_is_recorded_once_however_many_deliveries_race(
    engine: AsyncEngine,
) -> None:
    await migration.migrate(engine)
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        user = await new_user(session, 1)
        product = await add_product(session, await new_category(session, "Books"), "Book")

    async def record() -> int | None:
        async with factory() as session, session.begin():
            return await PurchaseDAO(session).record(
                user_id=user.id,
                product_id=product.id,
                amount=100,
                currency="XTR",
                provider="telegram_stars",
                charge_id="same-charge",
                provider_charge_id="",
            )

    results = await asyncio.gather(*(record() for _ in range(5)))
    assert sum(result is not None for result in results) == 1
    async with factory() as session:
        [row] = (await session.scalars(select(Purchase))).all()
        assert (row.charge_id, row.provider_charge_id) == ("same-charge", None)
        assert row.created_at.tzinfo is not None


async def test_buyer_purchases_spending_and_ownership(session: AsyncSession) -> None:
    books = await new_category(session, "Books")
    stars = await add_product(session, books, "Stars book", price=150)
    rubles = await add_product(session, books, "Ruble book", price=19999, currency="RUB")
    buyer, other = await new_user(session, 10), await new_user(session, 20)
    now = datetime.now(UTC)
    session.add_all(
        [
            purchase_of(buyer, stars, "c1", created_at=now - timedelta(days=2)),
            purchase_of(buyer, rubles, "c2", provider="provider", created_at=now),
            purchase_of(buyer, stars, "c3", created_at=now - timedelta(days=1)),
            purchase_of(other, rubles, "c4", provider="provider"),
        ]
    )
    await session.flush()
    purchases = PurchaseDAO(session)

    spending = await purchases.spending_of(10)
    assert (spending.purchases, spending.totals) == (3, {"RUB": 19999, "XTR": 300})
    page = await purchases.page_of(10, 0, 2)
    assert [p.charge_id for p in page.items] == ["c2", "c3"] and page.has_next
    assert page.items[0].product.name == "Ruble book"
    assert await purchases.owns(10, stars.id) and not await purchases.owns(20, stars.id)
    assert (await purchases.spending_of(999)).purchases == 0
    assert (await purchases.page_of(999, 0, 5)).total == 0


async def test_statistics_count_timezone_aware_periods(session: AsyncSession) -> None:
    now = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)
    periods = Periods.ending(now)
    assert periods.today == datetime(2026, 3, 10, tzinfo=UTC)
    # 06:30 at UTC+5 is the same instant: the periods do not depend on the caller's zone.
    assert Periods.ending(now.astimezone(timezone(timedelta(hours=5)))) == periods
    with pytest.raises(ValueError, match="naive"):
        Periods.ending(datetime(2026, 3, 10))

    ages = {
        "today": timedelta(minutes=20),
        "yesterday": timedelta(hours=2),  # 23:30 the day before: not today
        "week": timedelta(days=6),
        "month": timedelta(days=29),
        "old": timedelta(days=45),
    }
    product = await add_product(session, await new_category(session, "Books"), "Book", price=100)
    for number, (name, age) in enumerate(ages.items()):
        user = await new_user(session, 100 + number)
        user.created_at = now - age
        provider = "provider" if name == "week" else "telegram_stars"
        currency = "RUB" if name == "week" else "XTR"
        session.add(
            purchase_of(
                user, product, name, created_at=now - age, currency=currency, provider=provider
            )
        )
    await session.flush()
    stats = StatsDAO(session)

    users = await stats.users(periods)
    assert (users.total, users.today, users.week, users.month) == (5, 1, 3, 4)
    summary = {
        since: [(r.currency, r.provider, r.purchases, r.amount) for r in await stats.revenue(since)]
        for since in (periods.today, periods.week, periods.month, None)
    }
    assert summary == {
        periods.today: [("XTR", "telegram_stars", 1, 100)],
        periods.week: [("RUB", "provider", 1, 100), ("XTR", "telegram_stars", 2, 200)],
        periods.month: [("RUB", "provider", 1, 100), ("XTR", "telegram_stars", 3, 300)],
        None: [("RUB", "provider", 1, 100), ("XTR", "telegram_stars", 4, 400)],
    }
    assert await session.scalar(select(func.count(Purchase.id))) == 5


async def test_a_payment_arriving_after_a_delete_is_recorded_and_the_product_kept_hidden(
    session: AsyncSession,
) -> None:
    books = await new_category(session, "Books")
    product = await add_product(session, books, "Book", price=150)
    shop = Shop.on(session)
    assert await remove_product(shop, product) is Removal.DELETED
    assert await shop.products.get(product.id) is None
    assert (await shop.products.page_all(0, 5)).total == 0

    payment = Payment(build_payload(product.id, 5001), 150, "XTR", "late", provider_charge_id="")
    buyer = Customer(telegram_id=5001, username=None, first_name="Ann", last_name=None)
    recorded = await record_payment(shop, buyer, payment)

    assert isinstance(recorded, Recorded) and recorded.goods.name == "Book"
    kept = await shop.products.get(product.id)
    assert kept is not None and not kept.on_sale and kept.category.name == "Books"
    assert await shop.categories.on_sale() == []


async def test_a_payment_is_recorded_once_and_delivers_what_it_names(
    session: AsyncSession,
) -> None:
    product = await add_product(session, await new_category(session, "Books"), "Book", price=150)
    shop = Shop.on(session)
    buyer = Customer(telegram_id=5001, username="reader", first_name="Ann", last_name=None)

    def paid(charge_id: str, payload: str) -> Payment:
        return Payment(payload, 150, "XTR", charge_id, provider_charge_id="")

    first = await record_payment(shop, buyer, paid("c1", build_payload(product.id, 5001)))
    assert isinstance(first, Recorded)
    assert first.goods == Goods(product.id, "Book", "content", None)
    # Again: recorded before, with what it delivers (for a delivery the journal still owes).
    assert await record_payment(shop, buyer, paid("c1", build_payload(product.id, 5001))) == (
        Duplicate(purchase_id=first.purchase_id, goods=first.goods)
    )
    for payload in ["garbage", build_payload(product.id + 1, 5001)]:
        assert await record_payment(shop, buyer, paid(f"c-{payload}", payload)) == Unmatched()
    [purchase] = (await session.scalars(select(Purchase))).all()
    assert (purchase.id, purchase.provider, purchase.amount) == (
        first.purchase_id,
        "telegram_stars",
        150,
    )
    user = await UserDAO(session).by_telegram_id(5001)
    assert user is not None and (user.username, user.first_name) == ("reader", "Ann")


async def test_only_a_buyer_gets_the_goods_again_even_once_hidden(session: AsyncSession) -> None:
    product = await add_product(session, await new_category(session, "Books"), "Book")
    session.add(purchase_of(await new_user(session, 10), product, "charge-1"))
    await ProductDAO(session).set_on_sale(product, False)
    shop = Shop.on(session)

    assert await owned_goods(shop, 10, product.id) == Goods.of(product)
    assert await owned_goods(shop, 20, product.id) is None
    assert await owned_goods(shop, 10, product.id + 1) is None


async def test_category_names_are_unique_ignoring_case_in_the_schema(
    session: AsyncSession,
) -> None:
    session.add(Category(name="Foo"))
    await session.flush()
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(Category(name="foo"))
    assert await CategoryDAO(session).create("FOO") is None


async def test_foo_and_foo_added_at_once_make_one_category(engine: AsyncEngine) -> None:
    """The second admin checks the name before the first has committed: the index refuses."""
    await migration.migrate(engine)
    sessions = serving_session_factory(engine)

    async def create(name: str) -> Category | None:
        async with sessions() as session, session.begin():
            return await CategoryDAO(session).create(name)

    async with sessions() as first, first.begin():
        assert await CategoryDAO(first).create("Foo") is not None
        second = asyncio.create_task(create("foo"))
        await waiting_on_a_lock(engine, second)
    assert await second is None
    async with sessions() as session:
        assert [c.name for c, _ in await CategoryDAO(session).all()] == ["Foo"]


async def waiting_on_a_lock(engine: AsyncEngine, task: asyncio.Task[Category | None]) -> None:
    """PostgreSQL: until another backend waits on a lock (the second insert, on the index);
    SQLite: its transactions wait for the one write lock at BEGIN, so there is nothing to see."""
    if engine.dialect.name != "postgresql":
        return
    probe = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with asyncio.timeout(60), engine.connect() as conn:
        while not task.done():
            waiting = (await conn.execute(probe)).scalar()
            await conn.rollback()  # pg_stat_activity is read once per transaction: a new one
            if waiting:
                return
            await asyncio.sleep(0.02)
