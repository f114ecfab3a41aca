"""A customer's side of the shop, in-process on SQLite and PostgreSQL: browsing the catalog,
paying in Telegram Stars (the pre-checkout refusals, a repeated payment update delivered
once), the profile and getting a product again; forged buttons get nowhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category, Product, Purchase, User
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, documents, running_shop, texts

BUYER, OTHER, ADMINS = 5001, 5002, (9001, 9002)
CONTENT = "secret-key <42> & more"
DELIVERED = ["📦 Here is <b>Python Tricks</b>:", "secret-key &lt;42&gt; &amp; more"]


@dataclass(frozen=True)
class Seeded:
    book_id: int
    hidden_id: int
    category_id: int


async def seed(session: AsyncSession) -> Seeded:
    """E-books: Book 1..6 and Python Tricks (with content and a file); Drafts: one hidden."""
    books, drafts = Category(name="E-books"), Category(name="Drafts")

    def product(category: Category, name: str, price: int, **extra: object) -> Product:
        fields = {"description": f"About {name}", "hidden_content": "x"} | extra
        return Product(category=category, name=name, price=price, currency="XTR", **fields)

    session.add_all([product(books, f"Book {n}", 10 * n) for n in range(1, 7)])
    book = product(
        books,
        "Python Tricks",
        150,
        description="A <handy> book",
        file_id="FILE-PY",
        hidden_content=CONTENT,
    )
    hidden = product(drafts, "Unreleased", 99, on_sale=False)
    session.add_all([book, hidden])
    await session.flush()
    return Seeded(book_id=book.id, hidden_id=hidden.id, category_id=books.id)


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=",".join(map(str, ADMINS))) as running:
        yield running


@pytest.fixture
async def seeded(shop: ShopBot) -> Seeded:
    return await shop.run(seed)


@pytest.fixture
def buyer(shop: ShopBot) -> Chat:
    return shop.chat(BUYER, first_name="Ann <b>")


async def second_page(buyer: Chat) -> Screen:
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    return await buyer.tap(await buyer.tap(catalog, "E-books"), "Next")


async def open_card(buyer: Chat) -> Screen:
    return await buyer.tap(await second_page(buyer), "Python Tricks")


async def invoice(buyer: Chat) -> Call:
    [sent] = (await buyer.press((await open_card(buyer)).button("Buy"))).of("sendInvoice")
    return sent


async def hide(shop: ShopBot, product_id: int) -> None:
    await shop.run(
        lambda session: session.execute(
            update(Product).where(Product.id == product_id).values(on_sale=False)
        )
    )


@pytest.fixture
async def payload(seeded: Seeded, buyer: Chat) -> str:
    """The payload of the invoice the buyer got for Python Tricks."""
    return str((await invoice(buyer)).params["payload"])


@pytest.fixture
async def paid(payload: str, buyer: Chat) -> str:
    """Python Tricks paid for once; its payload."""
    await buyer.pay(currency="XTR", total_amount=150, payload=payload, charge_id="stars-1")
    return payload


# ---------------------------------------------------------------------------- browsing


async def test_start_greets_by_the_escaped_name_with_the_main_menu(buyer: Chat) -> None:
    menu = await buyer.send("/start")

    assert "Ann &lt;b&gt;" in menu.text
    assert menu.labels == [
        "🛍 Catalog",
        "🔎 Search",
        "🧾 My purchases",
        "👥 Invite friends",
        "ℹ️ About",
        "🌐 Language",
    ]


async def test_start_registers_the_user(shop: ShopBot, buyer: Chat) -> None:
    await buyer.send("/start")

    [user] = await shop.rows(User)
    assert (user.telegram_id, user.first_name) == (BUYER, "Ann <b>")


async def test_the_catalog_lists_categories_with_products_on_sale(
    seeded: Seeded, buyer: Chat
) -> None:
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")

    assert catalog.labels == ["E-books (7)", "🏠 Main menu"]  # Drafts has nothing on sale


async def test_a_category_is_paged_with_prices(seeded: Seeded, buyer: Chat) -> None:
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    first_page = await buyer.tap(catalog, "E-books")

    assert "Page 1 of 2" in first_page.text
    assert first_page.labels == [
        *(f"Book {n} — {10 * n} ⭐" for n in range(1, 6)),
        "Next ▶️",
        "⬅️ Categories",
    ]
    assert (await buyer.tap(first_page, "Next")).labels == [
        "Book 6 — 60 ⭐",
        "Python Tricks — 150 ⭐",
        "◀️ Previous",
        "⬅️ Categories",
    ]


async def test_the_product_card_escapes_merchant_text_and_goes_back(
    seeded: Seeded, buyer: Chat
) -> None:
    page = await second_page(buyer)
    card = await buyer.tap(page, "Python Tricks")

    assert "<b>Python Tricks</b>" in card.text
    assert "A &lt;handy&gt; book" in card.text
    assert "Price: <b>150 ⭐</b>" in card.text
    assert (await buyer.tap(card, "Back")).labels == page.labels


async def test_a_second_tap_on_the_same_screen_is_answered_without_a_change(
    seeded: Seeded, buyer: Chat
) -> None:
    menu = await buyer.send("/start")
    await buyer.press(menu.button("Catalog"))

    again = await buyer.press(menu.button("Catalog"))  # Telegram: "message is not modified"

    assert again.notice is None
    assert [call.method for call in again.calls] == ["editMessageText"]


# ---------------------------------------------------------------------------- paying


async def test_buy_sends_a_stars_invoice_for_the_buyer(seeded: Seeded, buyer: Chat) -> None:
    sent = await invoice(buyer)

    assert sent.params["currency"] == "XTR"
    # aiogram leaves an empty provider_token out of the request: Stars need none.
    assert not sent.params.get("provider_token")
    assert sent.params["prices"] == [{"label": "Python Tricks", "amount": 150}]
    assert str(BUYER) in sent.params["payload"] and str(seeded.book_id) in sent.params["payload"]


async def test_pre_checkout_accepts_the_invoice_as_sent(payload: str, buyer: Chat) -> None:
    answer = await buyer.pre_checkout(currency="XTR", total_amount=150, payload=payload)

    assert answer.params["ok"] is True


@pytest.mark.parametrize(
    ("payer", "currency", "total_amount", "forged_suffix"),
    [
        pytest.param(BUYER, "XTR", 149, "", id="wrong amount"),
        pytest.param(BUYER, "USD", 150, "", id="wrong currency"),
        pytest.param(OTHER, "XTR", 150, "", id="someone else's invoice"),
        pytest.param(BUYER, "XTR", 150, ":x", id="forged payload"),
    ],
)
async def test_pre_checkout_refuses_what_does_not_match_the_invoice(
    shop: ShopBot, payload: str, payer: int, currency: str, total_amount: int, forged_suffix: str
) -> None:
    answer = await shop.chat(payer).pre_checkout(
        currency=currency, total_amount=total_amount, payload=payload + forged_suffix
    )

    assert answer.params["ok"] is False
    assert answer.params["error_message"]
    if total_amount != 150:
        assert "price" in answer.params["error_message"]


async def test_pre_checkout_refuses_a_product_hidden_since_the_invoice(
    shop: ShopBot, seeded: Seeded, payload: str, buyer: Chat
) -> None:
    await hide(shop, seeded.book_id)

    answer = await buyer.pre_checkout(currency="XTR", total_amount=150, payload=payload)

    assert answer.params["ok"] is False
    assert answer.params["error_message"]


async def test_a_payment_delivered_twice_at_once_is_recorded_and_delivered_once(
    shop: ShopBot, seeded: Seeded, payload: str, buyer: Chat
) -> None:
    mark = shop.telegram.mark()

    payment = {"currency": "XTR", "total_amount": 150, "payload": payload}
    await buyer.pay(**payment, charge_id="stars-charge-1", copies=2)

    to_buyer = buyer.calls_since(mark)
    assert texts(to_buyer) == DELIVERED
    assert documents(to_buyer) == ["FILE-PY"]
    for admin_id in ADMINS:
        [notice] = texts(shop.chat(admin_id).calls_since(mark))
        assert "New purchase" in notice and "Python Tricks" in notice and "150 ⭐" in notice
    [purchase] = await shop.rows(Purchase)
    assert (purchase.product_id, purchase.amount, purchase.currency) == (seeded.book_id, 150, "XTR")
    assert (purchase.provider, purchase.charge_id) == ("telegram_stars", "stars-charge-1")
    assert purchase.provider_charge_id is None
    assert purchase.created_at.tzinfo is not None
    [user] = await shop.rows(User, User.id == purchase.user_id)
    assert user.telegram_id == BUYER


async def test_a_payment_naming_no_product_asks_the_admins_to_refund(
    shop: ShopBot, seeded: Seeded, payload: str, buyer: Chat
) -> None:
    await shop.run(
        lambda session: session.execute(delete(Product).where(Product.id == seeded.book_id))
    )
    mark = shop.telegram.mark()

    await buyer.pay(currency="XTR", total_amount=150, payload=payload, charge_id="stray-1")

    [told] = texts(buyer.calls_since(mark))
    assert "could not match it to a product" in told
    for admin_id in ADMINS:
        [notice] = texts(shop.chat(admin_id).calls_since(mark))
        assert "stray-1" in notice and "refund" in notice
    assert await shop.rows(Purchase) == []


# ---------------------------------------------------------------------------- my purchases


async def my_purchases(buyer: Chat) -> Screen:
    return await buyer.tap(await buyer.send("/start"), "My purchases")


async def test_my_purchases_shows_the_count_the_total_and_the_list(paid: str, buyer: Chat) -> None:
    profile = await my_purchases(buyer)

    assert "\n1 purchase\n" in profile.text
    assert "Total spent: 150 ⭐" in profile.text
    assert "Python Tricks — 150 ⭐" in profile.text


async def test_a_product_hidden_after_purchase_is_delivered_again_but_not_sold(
    shop: ShopBot, seeded: Seeded, paid: str, buyer: Chat
) -> None:
    card = await open_card(buyer)
    profile = await my_purchases(buyer)
    await hide(shop, seeded.book_id)

    again = await buyer.press(profile.button("Python Tricks"))
    assert texts(again.calls)[-1] == DELIVERED[-1]
    assert documents(again.calls) == ["FILE-PY"]
    assert (await buyer.press(card.button("Buy"))).notice == STALE


async def test_someone_else_gets_neither_my_purchase_nor_a_list(
    shop: ShopBot, paid: str, buyer: Chat
) -> None:
    redeliver = (await my_purchases(buyer)).button("Python Tricks")
    other = shop.chat(OTHER)

    assert (await other.press(redeliver)).notice == STALE  # not theirs
    assert "no purchases yet" in (await my_purchases(other)).text


# ---------------------------------------------------------------------------- forged buttons


async def test_forged_buttons_answer_stale_and_change_nothing(
    shop: ShopBot, seeded: Seeded, paid: str, buyer: Chat
) -> None:
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
        pressed = await buyer.press(data)
        assert (pressed.notice, pressed.calls) == (STALE, []), data
    assert len(await shop.rows(Purchase)) == 1
