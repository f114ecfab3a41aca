"""/search and 🔎, in-process through the real dispatcher on SQLite and PostgreSQL: words
found in names and descriptions in any case, Russian as well as English (SQLite's own lower()
folds only ASCII), every word required, hidden and deleted products never shown, LIKE's
wildcards taken literally, results paged, an old page button after /start refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from bot.dao.models import Product
from bot.keyboards.callbacks import Menu, MenuAction, SearchPage
from bot.workers.search_text import fold_search_text
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, ShopBot, running_shop

CUSTOMER = 5501


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database) as running:
        for name, description in [
            ("Ключ Windows 11", "Лицензия навсегда"),
            ("Антивирус ЁЖ", "Защита на год"),
            ("Game key", "Steam: 100% working"),
            ("VPN", "Быстрый КЛЮЧ доступа"),
        ]:
            await running.add_product(
                f"Cat {name}", name=name, description=description, price=5, currency="XTR"
            )
        await running.add_product(
            "Hidden", name="Ключ скрытый", price=5, currency="XTR", on_sale=False
        )
        await running.add_product(
            "Gone", name="Ключ удалённый", price=5, currency="XTR", deleted_at=datetime.now(UTC)
        )
        yield running


def found(screen_labels: list[str]) -> list[str]:
    return [label.split(" — ")[0] for label in screen_labels if " — " in label]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("ключ", ["VPN", "Ключ Windows 11"]),  # a name, and a description in capitals
        ("КЛЮЧ windows", ["Ключ Windows 11"]),  # every word, each in any case
        ("еж", ["Антивирус ЁЖ"]),  # ё read as е
        ("ЛИЦЕНЗИЯ", ["Ключ Windows 11"]),
        ("KEY", ["Game key"]),
        ("100%", ["Game key"]),
        ("%", ["Game key"]),  # LIKE's wildcards are letters here: only the one with a %
        ("_", []),
        ("ключ год", []),
    ],
)
async def test_search_finds_every_word_in_any_case(
    shop: ShopBot, query: str, names: list[str]
) -> None:
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    screen = await customer.send(f"/search {query}")
    assert sorted(found(screen.labels)) == names
    if not names:
        assert "Nothing found for" in screen.text


async def test_the_search_button_asks_then_shows_cards(shop: ShopBot) -> None:
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    asked = (await customer.press(Menu(action=MenuAction.SEARCH).pack())).screen
    assert "What are you looking for?" in asked.text
    results = await customer.send("  защита  ")
    assert "<b>защита</b>: 1 product found" in results.text
    card = await customer.tap(results, "Антивирус ЁЖ")
    assert "Защита на год" in card.text
    # /search alone asks too.
    assert "What are you looking for?" in (await customer.send("/search")).text


async def test_results_are_paged_and_old_pages_go_stale(database: ThrowawayDatabase) -> None:
    async with running_shop(database, catalog_page_size=2) as shop:
        for number in range(5):
            await shop.add_product(f"C{number}", name=f"Item {number}", price=5, currency="XTR")
        customer = shop.chat(CUSTOMER)
        await customer.send("/start")
        first = await customer.send("/search item")
        assert "5 products found" in first.text and "Page 1 of 3" in first.text
        second = await customer.tap(first, "Next")
        assert found(second.labels) == ["Item 2", "Item 3"]
        await customer.send("/start")  # forgets the search
        pressed = await customer.press(SearchPage(page=1).pack())
        assert pressed.notice == STALE


async def test_products_left_without_search_text_are_folded_at_start(shop: ShopBot) -> None:
    """Offline SQL adds the column only, and an older release adds products without it: the
    bot folds them when it starts."""
    await shop.run(
        lambda session: session.execute(
            update(Product).where(Product.name == "VPN").values(search_text=None)
        )
    )
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    assert "VPN" not in found((await customer.send("/search vpn")).labels)
    await fold_search_text(shop.engine)
    assert found((await customer.send("/search vpn")).labels) == ["VPN"]
