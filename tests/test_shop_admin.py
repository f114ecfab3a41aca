"""End to end, through the real `python main.py` and the fake Bot API: an admin builds the
catalog with the forms (a refused duplicate, refused prices, a /cancel), runs it (hide,
show, delete or hide-if-bought) and reads the statistics; a non-admin forging the admin
panel's buttons gets nowhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category, Product, Purchase, User
from bot.dao.users import UserDAO
from bot.handlers.ui import STALE
from bot.keyboards.callbacks import Admin, AdminAction, AdminProducts, Menu, MenuAction
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, Screen, running_bot

ADMIN, CUSTOMER, INTRUDER = 9001, 5001, 6666
PANEL = Admin(action=AdminAction.PANEL).pack()


def add_category(admin: Chat, categories: Screen, name: str) -> Screen:
    admin.tap(categories, "Add category")
    return admin.send(name)


def add_product(admin: Chat, name: str) -> Screen:
    """Fill the form up to the confirmation, checking each step's refusals on the way."""
    panel = admin.press(PANEL).screen
    assert "Send its name" in admin.tap(panel, "Add product").text
    assert "too long" in admin.send("x" * 129).text
    assert "description" in admin.send(name).text
    pick = admin.send("A <handy> book")
    assert "Choose the category" in admin.send("E-books").text  # buttons only
    price_prompt = admin.tap(pick, "E-books")
    assert "whole number of Stars" in price_prompt.text
    for bad, why in [
        ("abc", "not a price"),
        ("-5", "greater than zero"),
        ("0", "greater than zero"),
        ("1.5", "whole numbers only"),
        ("10001", "too much"),
        ("99999999999999999999999999999", "too much"),
    ]:
        assert why in admin.send(bad).text, bad
    assert "file" in admin.send("150").text
    assert "as a document" in admin.send("no file, sorry").text
    assert "hidden content" in admin.send_document("FILE-PY").text
    summary = admin.send("secret-key-42")
    assert "Price: 150 ⭐" in summary.text and "File: attached" in summary.text
    return summary


async def seed_sales(session: AsyncSession, product_id: int) -> None:
    """Two more users and three purchases: today, 10 days ago, 40 days ago."""
    now = datetime.now(UTC)
    users = UserDAO(session)
    today = await users.register(CUSTOMER, username=None, first_name="C", last_name=None)
    old = await users.register(7002, username=None, first_name="O", last_name=None)
    old.created_at = now - timedelta(days=40)
    for user, amount, currency, provider, age in [
        (today, 150, "XTR", "telegram_stars", timedelta(0)),
        (today, 19999, "RUB", "provider", timedelta(days=10)),
        (old, 300, "XTR", "telegram_stars", timedelta(days=40)),
    ]:
        session.add(
            Purchase(
                user_id=user.id,
                product_id=product_id,
                amount=amount,
                currency=currency,
                provider=provider,
                charge_id=f"charge-{amount}",
                created_at=now - age,
            )
        )


def test_admin_builds_the_catalog_and_reads_statistics(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with running_bot(database, fake_api, tmp_path, ADMIN_IDS=f"{ADMIN}") as shop:
        admin = shop.chat(ADMIN)
        menu = admin.send("/start")
        panel = admin.tap(menu, "Admin panel")
        assert admin.press(panel.button("Add product")).notice == "Create a category first."

        categories = admin.tap(panel, "Categories")
        created = add_category(admin, categories, "E-books")
        assert "created" in created.text and "E-books (0)" in created.labels
        admin.tap(created, "Add category")
        assert "already exists" in admin.send("e-BOOKS").text  # state stays: try again
        assert "too long" in admin.send("c" * 65).text
        courses = admin.send("Courses")
        view = admin.tap(courses, "Courses (0)")
        admin.tap(view, "Rename")
        assert "already exists" in admin.send("E-books").text
        renamed = admin.send("Video courses")
        assert "Video courses (0)" in renamed.labels
        deleted = admin.tap(admin.tap(renamed, "Video courses"), "Delete")
        assert "deleted" in deleted.text and deleted.labels[0] == "E-books (0)"
        assert [category.name for category in shop.rows(Category)] == ["E-books"]

        # /cancel in the middle of the form: nothing saved, the state is gone.
        admin.tap(admin.press(PANEL).screen, "Add product")
        assert "description" in admin.send("Draft").text
        assert admin.send("/cancel").text == "Cancelled."
        assert admin.send("/cancel").text == "Nothing to cancel."

        summary = add_product(admin, "Python <Tricks>")
        assert "saved" in admin.tap(summary, "Save").text
        [product] = shop.rows(Product)
        assert (product.name, product.description) == ("Python <Tricks>", "A <handy> book")
        assert (product.price, product.currency, product.file_id) == (150, "XTR", "FILE-PY")
        assert (product.hidden_content, product.on_sale) == ("secret-key-42", True)

        discarded = admin.tap(add_product(admin, "Second book"), "Cancel")
        assert "nothing was saved" in discarded.text
        assert len(shop.rows(Product)) == 1

        catalog = admin.press(Menu(action=MenuAction.CATALOG).pack()).screen
        books = admin.tap(catalog, "E-books (1)")
        assert books.labels[0] == "Python <Tricks> — 150 ⭐"  # labels are plain text

        products = admin.press(AdminProducts(page=0).pack()).screen
        card = admin.tap(products, "Python <Tricks>")
        assert "Purchases: 0" in card.text
        hidden = admin.tap(card, "Hide")
        assert "Hidden" in hidden.text and not shop.rows(Product)[0].on_sale
        catalog = admin.press(Menu(action=MenuAction.CATALOG).pack()).screen
        assert "empty" in catalog.text
        assert "Back on sale" in admin.tap(hidden, "Put on sale").text

        categories = admin.press(Admin(action=AdminAction.CATEGORIES).pack()).screen
        not_empty = admin.press(admin.tap(categories, "E-books").button("Delete"))
        assert "only an empty category" in (not_empty.notice or "")

        shop.run(lambda session: seed_sales(session, product.id))
        stats = admin.press(Admin(action=AdminAction.STATS).pack()).screen
        assert "since 00:00 UTC" in stats.text
        assert "3 in total; new: 2 today, 2 this week, 2 this month" in stats.text
        today, week, month, ever = stats.text.split("💰 <b>Purchases and revenue</b>\n")[1].split(
            "\n<b>"
        )
        assert today == "<b>Today</b>: 1 purchases\n  • 150 ⭐ — 1 via Telegram Stars"
        assert week == "Week</b>: 1 purchases\n  • 150 ⭐ — 1 via Telegram Stars"
        assert month.startswith("Month</b>: 2 purchases\n")
        assert "  • 199.99 RUB — 1 via payment provider" in month
        assert ever.startswith("All time</b>: 3 purchases\n")
        assert "  • 450 ⭐ — 2 via Telegram Stars" in ever

        # Bought, so hidden rather than deleted; a product nobody bought is deleted.
        bought = admin.tap(card, "Delete")
        assert "hidden instead of deleted" in bought.text
        [kept] = shop.rows(Product)
        assert not kept.on_sale
        summary = add_product(admin, "Nobody buys this")
        admin.tap(summary, "Save")
        products = admin.press(AdminProducts(page=0).pack()).screen
        gone = admin.tap(admin.tap(products, "Nobody buys this"), "Delete")
        assert "deleted" in gone.text
        assert [row.id for row in shop.rows(Product)] == [product.id]

        intruder = shop.chat(INTRUDER)
        assert "Admin panel" not in intruder.send("/start").labels
        before = [
            [(row.id, row.name, row.on_sale) for row in shop.rows(Product)],
            [(row.id, row.name) for row in shop.rows(Category)],
        ]
        forged = [
            "menu:admin",
            *(Admin(action=action).pack() for action in AdminAction),
            "admps:0",
            f"admp:view:{product.id}",
            f"admp:toggle:{product.id}",
            f"admp:delete:{product.id}",
            f"admc:view:{kept.category_id}",
            f"admc:rename:{kept.category_id}",
            f"admc:delete:{kept.category_id}",
            f"pick:{kept.category_id}",
            "form:save",
        ]
        for data in forged:
            pressed = intruder.press(data)
            assert (pressed.notice, pressed.calls) == (STALE, []), data
        # No form was opened for them: typing does not create anything.
        assert intruder.send("/cancel").text == "Nothing to cancel."
        after = [
            [(row.id, row.name, row.on_sale) for row in shop.rows(Product)],
            [(row.id, row.name) for row in shop.rows(Category)],
        ]
        assert after == before
        assert len(shop.rows(User)) == 4  # admin, two seeded, intruder
