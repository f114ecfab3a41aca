"""End to end, through the real `python main.py` and the fake Bot API: a user browses the
catalog, pays in Telegram Stars, gets the content once (even when Telegram repeats the
update), sees the purchase in the profile and gets it again; forged buttons get nowhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.catalog import CategoryDAO, ProductDAO
from bot.dao.models import Product, Purchase, User
from bot.handlers.invoice import build_payload
from bot.handlers.payments import UNMATCHED
from bot.handlers.ui import STALE
from bot.keyboards.callbacks import Menu, MenuAction
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import (
    documents,
    running_bot,
    texts,
)

BUYER, OTHER, ADMINS = 5001, 5002, (9001, 9002)
CONTENT = "secret-key <42> & more"


@dataclass(frozen=True)
class Seeded:
    book_id: int
    hidden_id: int
    category_id: int


async def seed(session: AsyncSession) -> Seeded:
    categories, products = CategoryDAO(session), ProductDAO(session)
    books = await categories.create("E-books")
    drafts = await categories.create("Drafts")
    assert books is not None and drafts is not None

    async def add(category_id: int, name: str, price: int, **extra: str) -> Product:
        fields = {"description": f"About {name}", "file_id": None, "hidden_content": "x"} | extra
        return await products.create(
            category_id=category_id, name=name, price=price, currency="XTR", **fields
        )

    for number in range(1, 7):
        await add(books.id, f"Book {number}", 10 * number)
    book = await add(
        books.id,
        "Python Tricks",
        150,
        description="A <handy> book",
        file_id="FILE-PY",
        hidden_content=CONTENT,
    )
    hidden = await add(drafts.id, "Unreleased", 99)
    await products.set_on_sale(hidden, False)
    return Seeded(book_id=book.id, hidden_id=hidden.id, category_id=books.id)


def test_browse_buy_pay_twice_and_get_it_again(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    admin_ids = ",".join(map(str, ADMINS))
    with running_bot(database, fake_api, tmp_path, ADMIN_IDS=admin_ids) as shop:
        seeded = shop.run(seed)
        buyer = shop.chat(BUYER, first_name="Ann <b>")

        menu = buyer.send("/start")
        assert "Ann &lt;b&gt;" in menu.text
        assert menu.labels == ["🛍 Catalog", "🧾 My purchases", "ℹ️ About"]

        catalog = buyer.tap(menu, "Catalog")
        assert catalog.labels == ["E-books (7)", "🏠 Main menu"]  # Drafts has nothing on sale
        first_page = buyer.tap(catalog, "E-books")
        assert "Page 1 of 2" in first_page.text
        assert first_page.labels == [
            *(f"Book {n} — {10 * n} ⭐" for n in range(1, 6)),
            "Next ▶️",
            "⬅️ Categories",
        ]
        second_page = buyer.tap(first_page, "Next")
        assert second_page.labels == [
            "Book 6 — 60 ⭐",
            "Python Tricks — 150 ⭐",
            "◀️ Previous",
            "⬅️ Categories",
        ]
        card = buyer.tap(second_page, "Python Tricks")
        assert "<b>Python Tricks</b>" in card.text
        assert "A &lt;handy&gt; book" in card.text
        assert "Price: <b>150 ⭐</b>" in card.text
        assert buyer.tap(card, "Back").labels == second_page.labels

        bought = buyer.press(card.button("Buy for 150 ⭐"))
        [invoice] = bought.of("sendInvoice")
        payload = build_payload(seeded.book_id, BUYER)
        assert invoice.params["payload"] == payload
        assert invoice.params["currency"] == "XTR"
        # aiogram leaves an empty provider_token out of the request: Stars need none.
        assert not invoice.params.get("provider_token")
        assert invoice.params["prices"] == [{"label": "Python Tricks", "amount": 150}]

        refused = {
            "wrong amount": buyer.pre_checkout(currency="XTR", total_amount=149, payload=payload),
            "wrong currency": buyer.pre_checkout(currency="USD", total_amount=150, payload=payload),
            "someone else's invoice": shop.chat(OTHER).pre_checkout(
                currency="XTR", total_amount=150, payload=payload
            ),
            "forged payload": buyer.pre_checkout(
                currency="XTR", total_amount=150, payload=f"p:{seeded.book_id}:u:{BUYER}:x"
            ),
            "hidden product": buyer.pre_checkout(
                currency="XTR", total_amount=99, payload=build_payload(seeded.hidden_id, BUYER)
            ),
        }
        for case, answer in refused.items():
            assert answer.params["ok"] is False, case
            assert answer.params["error_message"], case
        assert "price" in refused["wrong amount"].params["error_message"]
        ok = buyer.pre_checkout(currency="XTR", total_amount=150, payload=payload)
        assert ok.params["ok"] is True

        mark = fake_api.mark()
        payment = {"currency": "XTR", "total_amount": 150, "payload": payload}
        shop.pay(BUYER, **payment, charge_id="stars-charge-1")
        shop.pay(BUYER, **payment, charge_id="stars-charge-1")
        shop.settle()
        to_buyer = buyer.calls_since(mark)
        assert texts(to_buyer) == [
            "📦 Here is <b>Python Tricks</b>:",
            "secret-key &lt;42&gt; &amp; more",
        ]
        assert documents(to_buyer) == ["FILE-PY"]
        for admin_id in ADMINS:
            [notice] = texts(shop.chat(admin_id).calls_since(mark))
            assert "New purchase" in notice and "Python Tricks" in notice and "150 ⭐" in notice
        mark = fake_api.mark()
        unknown = build_payload(99999, BUYER)
        shop.pay(BUYER, currency="XTR", total_amount=5, payload=unknown, charge_id="stray-1")
        shop.settle()
        assert texts(buyer.calls_since(mark)) == [UNMATCHED]
        for admin_id in ADMINS:
            [notice] = texts(shop.chat(admin_id).calls_since(mark))
            assert "stray-1" in notice and "refund" in notice
        [purchase] = shop.rows(Purchase)
        assert (purchase.product_id, purchase.amount, purchase.currency) == (
            seeded.book_id,
            150,
            "XTR",
        )
        assert (purchase.provider, purchase.charge_id) == ("telegram_stars", "stars-charge-1")
        assert purchase.provider_charge_id is None
        assert purchase.created_at.tzinfo is not None
        [user] = shop.rows(User, User.id == purchase.user_id)
        assert user.telegram_id == BUYER

        profile = buyer.press(Menu(action=MenuAction.PURCHASES).pack()).screen
        assert "Purchases: 1" in profile.text
        assert "Total spent: 150 ⭐" in profile.text
        assert "Python Tricks — 150 ⭐" in profile.text

        # Hidden later: the buyer keeps access, the catalog no longer offers it.
        shop.run(
            lambda session: session.execute(
                update(Product).where(Product.id == seeded.book_id).values(on_sale=False)
            ),
        )
        again_delivered = buyer.press(profile.button("Python Tricks"))
        assert texts(again_delivered.calls)[-1] == "secret-key &lt;42&gt; &amp; more"
        assert documents(again_delivered.calls) == ["FILE-PY"]
        assert buyer.press(card.button("Buy")).notice == STALE

        other = shop.chat(OTHER)
        assert other.press(profile.button("Python Tricks")).notice == STALE  # not theirs
        empty = other.press(Menu(action=MenuAction.PURCHASES).pack()).screen
        assert "no purchases yet" in empty.text

        forged = [
            "prod:abc:0",
            "prod:99999:0",
            f"prod:{seeded.hidden_id}:0",
            f"prod:{seeded.book_id}:-1",
            f"buy:{seeded.hidden_id}",
            "buy:-1",
            "buy:99999999999999999999",
            "cat:99999:0",
            f"cat:{seeded.category_id}:7",
            "mine:9",
            "menu:nothing",
            "nonsense",
        ]
        for data in forged:
            pressed = buyer.press(data)
            assert (pressed.notice, pressed.calls) == (STALE, []), data
        assert len(shop.rows(Purchase)) == 1
