"""The admin panel, in-process on SQLite and PostgreSQL: categories and the add-product form
(refusals, /cancel), running the catalog (hide, show, delete or hide-if-bought), the
statistics; a non-admin forging the panel's buttons gets nowhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category, Product, Purchase, User
from bot.keyboards.callbacks import Admin, AdminAction
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, running_shop

ADMIN, CUSTOMER, INTRUDER = 9001, 5001, 6666
BAD_PRICES = [
    ("abc", "not a price"),
    ("-5", "greater than zero"),
    ("0", "greater than zero"),
    ("1.5", "whole numbers only"),
    ("10001", "too much"),
    ("99999999999999999999999999999", "too much"),
]


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


@pytest.fixture
def admin(shop: ShopBot) -> Chat:
    return shop.chat(ADMIN)


async def add_books(session: AsyncSession) -> Category:
    books = Category(name="E-books")
    session.add(books)
    await session.flush()
    return books


@pytest.fixture
async def books(shop: ShopBot) -> int:
    return (await shop.run(add_books)).id


@pytest.fixture
async def product_id(shop: ShopBot, books: int) -> int:
    """Python <Tricks> on sale in E-books, nobody has bought it."""

    async def add(session: AsyncSession) -> int:
        product = Product(
            category_id=books,
            name="Python <Tricks>",
            description="A <handy> book",
            price=150,
            currency="XTR",
            file_id="FILE-PY",
            hidden_content="secret-key-42",
        )
        session.add(product)
        await session.flush()
        return product.id

    return await shop.run(add)


async def panel(admin: Chat) -> Screen:
    return await admin.tap(await admin.send("/start"), "Admin panel")


async def categories(admin: Chat) -> Screen:
    return await admin.tap(await panel(admin), "Categories")


async def products(admin: Chat) -> Screen:
    return await admin.tap(await panel(admin), "Products")


async def fill_product_form(admin: Chat, name: str) -> Screen:
    """Fill the form up to the summary, checking each step's refusals on the way."""
    assert "Send its name" in (await admin.tap(await panel(admin), "Add product")).text
    assert "too long" in (await admin.send("x" * 129)).text
    assert "description" in (await admin.send(name)).text
    pick = await admin.send("A <handy> book")
    assert "Choose the category" in (await admin.send("E-books")).text  # buttons only
    assert "whole number of Stars" in (await admin.tap(pick, "E-books")).text
    for bad, why in BAD_PRICES:
        assert why in (await admin.send(bad)).text, bad
    assert "photo" in (await admin.send("150")).text
    assert "not a file" in (await admin.send_document("FILE-PY")).text
    assert "file" in (await admin.send_photo("PHOTO-PY")).text
    assert "as a document" in (await admin.send("no file, sorry")).text
    assert "hidden content" in (await admin.send_document("FILE-PY")).text
    summary = await admin.send("secret-key-42")
    assert "Price: 150 ⭐" in summary.text and "File: attached" in summary.text
    assert "Photo: attached" in summary.text
    return summary


async def names(shop: ShopBot, model: type[Category] | type[Product]) -> list[str]:
    return [row.name for row in await shop.rows(model)]


# ---------------------------------------------------------------------------- categories


async def test_the_admin_panel_is_shown_to_admins_only(shop: ShopBot, admin: Chat) -> None:
    assert "🛠 Admin panel" in (await admin.send("/start")).labels
    assert "Admin panel" not in str((await shop.chat(INTRUDER).send("/start")).labels)


async def test_adding_a_product_needs_a_category_first(admin: Chat) -> None:
    pressed = await admin.press((await panel(admin)).button("Add product"))

    assert pressed.notice == "Create a category first."


async def test_a_category_is_created_and_taken_or_long_names_are_refused(
    shop: ShopBot, admin: Chat
) -> None:
    await admin.tap(await categories(admin), "Add category")
    created = await admin.send("E-books")
    assert "created" in created.text and "E-books (0)" in created.labels

    await admin.tap(created, "Add category")
    assert "already exists" in (await admin.send("e-BOOKS")).text  # the step waits: try again
    assert "too long" in (await admin.send("c" * 65)).text
    assert "Courses (0)" in (await admin.send("Courses")).labels
    assert await names(shop, Category) == ["E-books", "Courses"]


async def test_a_category_is_renamed_unless_the_name_is_taken(
    shop: ShopBot, books: int, admin: Chat
) -> None:
    await admin.tap(await categories(admin), "Add category")
    view = await admin.tap(await admin.send("Courses"), "Courses (0)")
    await admin.tap(view, "Rename")

    assert "already exists" in (await admin.send("E-books")).text
    assert "Video courses (0)" in (await admin.send("Video courses")).labels
    assert await names(shop, Category) == ["E-books", "Video courses"]


async def test_an_empty_category_is_deleted(shop: ShopBot, books: int, admin: Chat) -> None:
    await admin.tap(await categories(admin), "Add category")
    courses = await admin.send("Courses")

    deleted = await admin.tap(await admin.tap(courses, "Courses (0)"), "Delete")

    assert "deleted" in deleted.text and deleted.labels[0] == "E-books (0)"
    assert await names(shop, Category) == ["E-books"]


async def test_a_category_with_products_is_not_deleted(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    view = await admin.tap(await categories(admin), "E-books")

    refused = await admin.press(view.button("Delete"))

    assert "only an empty category" in (refused.notice or "")
    assert await names(shop, Category) == ["E-books"]


# ---------------------------------------------------------------------------- the product form


async def test_cancel_leaves_the_form_and_saves_nothing(
    shop: ShopBot, books: int, admin: Chat
) -> None:
    await admin.tap(await panel(admin), "Add product")
    assert "description" in (await admin.send("Draft")).text

    assert (await admin.send("/cancel")).text == "Cancelled."
    assert (await admin.send("/cancel")).text == "Nothing to cancel."
    assert await shop.rows(Product) == []


async def test_a_filled_form_saves_the_product_after_refusing_bad_answers(
    shop: ShopBot, books: int, admin: Chat
) -> None:
    summary = await fill_product_form(admin, "Python <Tricks>")

    assert "saved" in (await admin.tap(summary, "Save")).text
    [product] = await shop.rows(Product)
    assert (product.name, product.description) == ("Python <Tricks>", "A <handy> book")
    assert (product.price, product.currency, product.file_id) == (150, "XTR", "FILE-PY")
    assert product.photo == "PHOTO-PY" and product.search_text == "python <tricks>\na <handy> book"
    assert (product.hidden_content, product.on_sale) == ("secret-key-42", True)
    catalog = await admin.tap(await admin.send("/start"), "Catalog")
    in_books = await admin.tap(catalog, "E-books (1)")
    assert in_books.labels[0] == "Python <Tricks> — 150 ⭐"  # labels are plain text


async def test_cancel_at_the_summary_saves_nothing(shop: ShopBot, books: int, admin: Chat) -> None:
    summary = await fill_product_form(admin, "Second book")

    assert "nothing was saved" in (await admin.tap(summary, "Cancel")).text
    assert await shop.rows(Product) == []


# ---------------------------------------------------------------------------- running the shop


async def test_hiding_a_product_takes_it_off_the_catalog_until_shown_again(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    card = await admin.tap(await products(admin), "Python <Tricks>")
    assert "Purchases: 0" in card.text

    hidden = await admin.tap(card, "Hide")
    assert "Hidden" in hidden.text
    assert [row.on_sale for row in await shop.rows(Product)] == [False]
    assert "empty" in (await admin.tap(await admin.send("/start"), "Catalog")).text

    shown = await admin.tap(hidden, "Put on sale")
    assert "Back on sale" in shown.text
    assert [row.on_sale for row in await shop.rows(Product)] == [True]


async def test_deleting_a_product_nobody_bought_removes_it_from_every_list(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    card = await admin.tap(await products(admin), "Python <Tricks>")

    shown = await admin.tap(card, "Delete")
    assert "deleted" in shown.text
    assert "Python" not in " ".join(shown.labels)
    # The row stays, marked deleted, so a payment arriving late still finds its product.
    [row] = await shop.rows(Product)
    assert row.deleted_at is not None and not row.on_sale
    assert "Python" not in " ".join((await products(admin)).labels)
    assert "empty" in (await admin.tap(await admin.send("/start"), "Catalog")).text


async def sell(
    session: AsyncSession, product_id: int, sales: list[tuple[int, str, str, int]]
) -> None:
    """Two users, one new today and one 40 days old, and their purchases:
    (amount, currency, provider, days ago)."""
    now = datetime.now(UTC)
    today = User(telegram_id=CUSTOMER, first_name="C")
    old = User(telegram_id=7002, first_name="O", created_at=now - timedelta(days=40))
    session.add_all([today, old])
    await session.flush()
    for amount, currency, provider, days in sales:
        session.add(
            Purchase(
                user_id=(old if days > 30 else today).id,
                product_id=product_id,
                amount=amount,
                currency=currency,
                provider=provider,
                charge_id=f"charge-{amount}",
                created_at=now - timedelta(days=days),
            )
        )


async def test_deleting_a_bought_product_hides_it_instead(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    await shop.run(lambda session: sell(session, product_id, [(150, "XTR", "telegram_stars", 0)]))
    card = await admin.tap(await products(admin), "Python <Tricks>")

    assert "hidden instead of deleted" in (await admin.tap(card, "Delete")).text
    [kept] = await shop.rows(Product)
    assert (kept.id, kept.on_sale) == (product_id, False)


async def test_statistics_count_users_and_revenue_per_period(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    sales = [
        (150, "XTR", "telegram_stars", 0),
        (19999, "RUB", "provider", 10),
        (300, "XTR", "telegram_stars", 40),
    ]
    await shop.run(lambda session: sell(session, product_id, sales))

    stats = await admin.tap(await panel(admin), "Statistics")

    assert "since 00:00 UTC" in stats.text
    users = "👥 <b>3 users</b> in total\n  • 2 new today\n  • 2 new this week\n  • 2 new this month"
    assert users in stats.text
    today, week, month, ever = stats.text.split("💰 <b>Purchases and revenue</b>\n")[1].split(
        "\n<b>"
    )
    assert today == "<b>Today</b>: 1 purchase\n  • 150 ⭐ — 1 purchase via Telegram Stars"
    assert week == "Week</b>: 1 purchase\n  • 150 ⭐ — 1 purchase via Telegram Stars"
    assert month.startswith("Month</b>: 2 purchases\n")
    assert "  • 199.99 RUB — 1 purchase via payment provider" in month
    assert ever.startswith("All time</b>: 3 purchases\n")
    assert "  • 450 ⭐ — 2 purchases via Telegram Stars" in ever


# ---------------------------------------------------------------------------- a non-admin


async def test_forged_admin_buttons_from_a_non_admin_change_nothing(
    shop: ShopBot, books: int, product_id: int
) -> None:
    async def catalog_rows() -> list[list[tuple[object, ...]]]:
        return [
            [(row.id, row.name, row.on_sale) for row in await shop.rows(Product)],
            [(row.id, row.name) for row in await shop.rows(Category)],
        ]

    intruder = shop.chat(INTRUDER)
    await intruder.send("/start")
    before = await catalog_rows()
    forged = [
        "menu:admin",
        *(Admin(action=action).pack() for action in AdminAction),
        "admps:0",
        f"admp:view:{product_id}",
        f"admp:toggle:{product_id}",
        f"admp:delete:{product_id}",
        f"admc:view:{books}",
        f"admc:rename:{books}",
        f"admc:delete:{books}",
        f"pick:{books}",
        "form:save",
    ]
    for data in forged:
        pressed = await intruder.press(data)
        assert (pressed.notice, pressed.calls) == (STALE, []), data

    # No form was opened for them: typing does not create anything.
    assert (await intruder.send("/cancel")).text == "Nothing to cancel."
    assert await catalog_rows() == before
    assert [user.telegram_id for user in await shop.rows(User)] == [INTRUDER]


# ------------------------------------------------------------------ double taps


def errors(shop: ShopBot) -> list[str]:
    return [line for line in shop.log if line.startswith("ERROR")]


async def test_save_tapped_twice_at_once_makes_one_product(
    shop: ShopBot, books: int, admin: Chat
) -> None:
    summary = await fill_product_form(admin, "Twice")
    taps = [shop.telegram.button_update(ADMIN, summary.button("Save")) for _ in range(2)]

    await shop.feed(*taps)

    assert await names(shop, Product) == ["Twice"]
    assert errors(shop) == []


@contextmanager
def first_product_commit_refused(shop: ShopBot) -> Iterator[None]:
    """The first commit of a transaction that inserted a product fails, as a database
    refusing it at commit would: the transaction is rolled back."""
    engine = shop.engine.sync_engine
    refused: list[bool] = []

    def note_insert(conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PRODUCTS"):
            conn.info["inserted_product"] = True

    def refuse_once(conn: Connection) -> None:
        if conn.info.pop("inserted_product", False) and not refused:
            refused.append(True)
            conn.connection.rollback()
            raise OperationalError("COMMIT", {}, RuntimeError("the database refused the commit"))

    event.listen(engine, "after_cursor_execute", note_insert)
    event.listen(engine, "commit", refuse_once)
    try:
        yield
    finally:
        event.remove(engine, "after_cursor_execute", note_insert)
        event.remove(engine, "commit", refuse_once)
    assert refused, "no product insert was committed"


async def test_a_save_whose_commit_fails_keeps_the_form_for_another_save(
    shop: ShopBot, books: int, admin: Chat
) -> None:
    summary = await fill_product_form(admin, "Retried")

    with first_product_commit_refused(shop):
        await shop.feed(shop.telegram.button_update(ADMIN, summary.button("Save")))
    assert await names(shop, Product) == []
    [failed] = [line for line in shop.log if "refused the commit" in line]
    shop.log.remove(failed)  # the failure this test causes, logged as it should be

    saved = await admin.tap(summary, "Save")

    assert "saved" in saved.text
    assert await names(shop, Product) == ["Retried"]


async def test_delete_tapped_twice_at_once_is_harmless(
    shop: ShopBot, product_id: int, admin: Chat
) -> None:
    card = await admin.tap(await products(admin), "Python <Tricks>")
    taps = [shop.telegram.button_update(ADMIN, card.button("Delete")) for _ in range(2)]

    await shop.feed(*taps)

    [row] = await shop.rows(Product)
    assert row.deleted_at is not None
    assert errors(shop) == []
