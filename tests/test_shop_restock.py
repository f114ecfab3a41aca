"""Waiting for a sold-out stock product, in-process through the real dispatcher on SQLite and
PostgreSQL: 🔔/🔕 on its card, one restock notice per waiting customer in the outbox when
units are added (by an admin or the command line), what a notice says when it is sent, and
stale or forged buttons."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, update

from bot.config import DatabaseSettings
from bot.dao.models import (
    KIND_STOCK,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_RESTOCK,
    OUTBOX_SENT,
    UNIT_SOLD,
    OutboxMessage,
    Product,
    RestockSubscription,
    StockUnit,
)
from bot.dao.outbox import Outgoing
from bot.handlers.restock import restock_notice
from bot.keyboards.callbacks import ProductCard, Restock
from bot.middlewares.database import shop_transactions
from bot.shop import Shop
from bot.shop.restock import NOTICE_CHUNK
from bot.shop.stock import StockLoad, load_units
from bot.stock.cli import load_file
from bot.telegram.outbox import Outbox
from bot.telegram.outgoing import Part
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, running_shop

ADMIN = 9001
NAME = "Game key <EU> & more"
WAIT = "Tell me when it is back"
STOP = "Stop waiting"


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


async def sold_out_product(shop: ShopBot, name: str = NAME, category: str = "Keys") -> int:
    """A stock product on sale without units; its id."""
    return await shop.add_product(category, name=name, price=25, currency="XTR", kind=KIND_STOCK)


async def load(shop: ShopBot, product_id: int, *units: str) -> StockLoad:
    """Units added in a transaction like the bot's (on SQLite it takes the write lock first)."""
    async with shop_transactions(shop.engine)(30.0) as serving:
        return await load_units(serving, product_id, "\n".join(units))


async def change_product(shop: ShopBot, product_id: int, **values: object) -> None:
    await shop.run(
        lambda session: session.execute(
            update(Product).where(Product.id == product_id).values(**values)
        )
    )


async def sell_everything(shop: ShopBot, product_id: int) -> None:
    await shop.run(
        lambda session: session.execute(
            update(StockUnit).where(StockUnit.product_id == product_id).values(state=UNIT_SOLD)
        )
    )


async def open_card(customer: Chat, category: str = "Keys", name: str = "Game key") -> Screen:
    menu = await customer.send("/start")
    return await customer.tap(
        await customer.tap(await customer.tap(menu, "Catalog"), category), name
    )


async def waiting(shop: ShopBot, product_id: int) -> list[int]:
    rows = await shop.rows(RestockSubscription, RestockSubscription.product_id == product_id)
    return sorted(row.telegram_id for row in rows)


async def notices(shop: ShopBot) -> list[tuple[int, int | None, str]]:
    """The outbox's restock rows: (chat, product, state)."""
    rows = await shop.rows(OutboxMessage, OutboxMessage.kind == OUTBOX_RESTOCK)
    return sorted((row.chat_id, row.product_id, row.state) for row in rows)


async def wait_for(customer: Chat, product_id: int) -> None:
    """The customer presses 🔔 on the card of the product (in category Keys, Game key…)."""
    await customer.tap(await open_card(customer), WAIT)
    assert customer.user_id in await waiting(customer.shop, product_id)


# ---------------------------------------------------------------------------- the customer


async def test_a_customer_waits_from_the_sold_out_card_and_stops(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    customer = shop.chat(6001)

    card = await open_card(customer)
    assert "Stock: sold out" in card.text
    assert [label for label in card.labels if "Buy" in label] == []

    pressed = await customer.press(card.button(WAIT))
    assert pressed.screen.text.startswith("🔔 We will tell you once it is back.\n\n<b>Game key")
    assert "&lt;EU&gt; &amp; more" in pressed.screen.text
    assert WAIT not in " ".join(pressed.screen.labels)
    assert await waiting(shop, product_id) == [customer.user_id]
    again = await open_card(customer)  # the card remembers
    assert STOP in " ".join(again.labels)

    stopped = await customer.press(again.button(STOP))
    assert stopped.screen.text.startswith("🔕 You will not be told.\n\n")
    assert WAIT in " ".join(stopped.screen.labels)
    assert await waiting(shop, product_id) == []


async def test_pressing_wait_on_a_product_back_in_stock_shows_buy(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    customer = shop.chat(6002)
    card = await open_card(customer)
    await load(shop, product_id, "KEY-1")

    pressed = await customer.press(card.button(WAIT))

    assert "Stock: 1 in stock" in pressed.screen.text
    assert "Buy for 25 ⭐" in " ".join(pressed.screen.labels)
    assert not pressed.screen.text.startswith("🔔")
    assert await waiting(shop, product_id) == []


async def test_stale_and_forged_wait_buttons_answer_stale_and_change_nothing(
    shop: ShopBot,
) -> None:
    product_id = await sold_out_product(shop)
    hidden_id = await sold_out_product(shop, name="Hidden", category="More")
    await change_product(shop, hidden_id, on_sale=False)
    deleted_id = await sold_out_product(shop, name="Deleted", category="Gone")
    await change_product(shop, deleted_id, on_sale=False, deleted_at=datetime.now(UTC))
    unlimited_id = await shop.add_product("Books", name="Book", price=5, currency="XTR")
    customer = shop.chat(6003)
    await customer.send("/start")

    forged = [
        f"rst:{hidden_id}:0",
        f"rst:{deleted_id}:0",
        f"rst:{unlimited_id}:0",
        "rst:99999:0",
        "rst:abc:0",
        f"rst:{product_id}:-1",
        f"rst:{product_id}",
        "rst:99999999999999999999:0",
    ]
    for data in forged:
        pressed = await customer.press(data)
        assert (pressed.notice, pressed.calls) == (STALE, []), data
    assert await shop.rows(RestockSubscription) == []


# ---------------------------------------------------------------------------- the restock


async def test_an_admin_adding_units_tells_each_waiting_customer_once(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    other_id = await sold_out_product(shop, name="Other key", category="Other")
    first, second, changed_mind, elsewhere = (shop.chat(user) for user in (6101, 6102, 6103, 6104))
    for customer in (first, second, changed_mind):
        await wait_for(customer, product_id)
    await changed_mind.tap(await open_card(changed_mind), STOP)
    await elsewhere.tap(await open_card(elsewhere, "Other", "Other key"), WAIT)
    admin = shop.chat(ADMIN)

    async def add_units(text: str) -> Screen:
        panel = await admin.tap(await admin.send("/start"), "Admin panel")
        view = await admin.tap(await admin.tap(panel, "Products"), "Game key")
        await admin.tap(view, "Add units")
        return await admin.send(text)

    reply = await add_units("KEY-1\nKEY-2")

    assert "added 2; 2 customers will be told. Units: 2 available, 0 reserved, 0 sold." in (
        reply.text
    )
    assert await notices(shop) == [
        (first.user_id, product_id, OUTBOX_PENDING),
        (second.user_id, product_id, OUTBOX_PENDING),
    ]
    assert await waiting(shop, product_id) == []
    assert await waiting(shop, other_id) == [elsewhere.user_id]

    reply = await add_units("KEY-3")

    assert "added 1. Units: 3 available" in reply.text
    assert len(await notices(shop)) == 2


async def test_units_added_to_a_hidden_product_tell_them_once_it_is_back_on_sale(
    shop: ShopBot,
) -> None:
    product_id = await sold_out_product(shop)
    customer = shop.chat(6201)
    await wait_for(customer, product_id)
    await change_product(shop, product_id, on_sale=False)
    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    await admin.tap(await admin.tap(await admin.tap(panel, "Products"), "Game key"), "Add units")

    reply = await admin.send("KEY-1")

    assert "added 1. Units: 1 available, 0 reserved, 0 sold, 1 waiting for a restock." in (
        reply.text
    )
    assert await notices(shop) == []
    assert await waiting(shop, product_id) == [customer.user_id]

    shown = await admin.tap(await admin.tap(panel, "Products"), "Game key")
    relisted = await admin.tap(shown, "Put on sale")

    assert "✅ Back on sale. 1 waiting customer will be told." in relisted.text
    assert await notices(shop) == [(customer.user_id, product_id, OUTBOX_PENDING)]
    assert await waiting(shop, product_id) == []


async def test_the_command_line_load_tells_them_too(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    product_id = await sold_out_product(shop)
    customer = shop.chat(6301)
    await wait_for(customer, product_id)
    settings = DatabaseSettings(_env_file=None, database_url=SecretStr(database.url_string))

    report = await load_file(settings, product_id, "A-1\nA-2\nA-1")

    assert report.describe() == "added 2, skipped 1 duplicate; 1 customer will be told"
    assert await notices(shop) == [(customer.user_id, product_id, OUTBOX_PENDING)]
    assert await waiting(shop, product_id) == []


async def test_thousands_waiting_are_each_told_once(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    customers = range(100_000, 100_000 + 2 * NOTICE_CHUNK + 7)
    await shop.run(
        lambda session: session.execute(
            insert(RestockSubscription),
            [{"product_id": product_id, "telegram_id": user} for user in customers],
        )
    )

    report = await load(shop, product_id, "KEY-1")

    assert report.told == len(customers)
    assert [chat for chat, _, _ in await notices(shop)] == list(customers)
    assert await waiting(shop, product_id) == []


# ---------------------------------------------------------------------------- the notice


async def notice_rows(shop: ShopBot) -> list[Outgoing]:
    rows = await shop.rows(OutboxMessage, OutboxMessage.kind == OUTBOX_RESTOCK)
    names = [field.name for field in fields(Outgoing)]
    return [Outgoing(**{name: getattr(row, name) for name in names}) for row in rows]


async def render(shop: ShopBot, row: Outgoing) -> list[Part] | None:
    return await shop.run(lambda session: restock_notice(Shop.on(session), row))


async def restocked(shop: ShopBot, customer: Chat) -> tuple[int, Outgoing]:
    """A product `customer` waited for, now with 2 units, and the notice row for them."""
    product_id = await sold_out_product(shop)
    await wait_for(customer, product_id)
    await load(shop, product_id, "KEY-1", "KEY-2")
    [row] = await notice_rows(shop)
    return product_id, row


async def test_the_notice_names_the_product_and_opens_its_card(shop: ShopBot) -> None:
    customer = shop.chat(6401)
    product_id, row = await restocked(shop, customer)

    [part] = await render(shop, row) or []

    assert part.text == "🔔 <b>Game key &lt;EU&gt; &amp; more</b> is back: 2 in stock."
    assert part.document is None and part.markup is not None
    [[button]] = part.markup.inline_keyboard
    assert button.callback_data == ProductCard(product_id=product_id).pack()
    assert await waiting(shop, product_id) == []


async def test_a_notice_for_a_product_sold_out_again_waits_for_the_next_restock(
    shop: ShopBot,
) -> None:
    customer = shop.chat(6402)
    product_id, row = await restocked(shop, customer)
    await sell_everything(shop, product_id)

    assert await render(shop, row) is None
    assert await waiting(shop, product_id) == [customer.user_id]

    await load(shop, product_id, "KEY-3")
    assert await notices(shop) == [
        (customer.user_id, product_id, OUTBOX_PENDING),
        (customer.user_id, product_id, OUTBOX_PENDING),
    ]


@pytest.mark.parametrize(
    "gone",
    [{"on_sale": False}, {"on_sale": False, "deleted_at": datetime.now(UTC)}],
    ids=["hidden", "deleted"],
)
async def test_a_notice_for_a_product_off_sale_is_not_sent(
    shop: ShopBot, gone: dict[str, object]
) -> None:
    customer = shop.chat(6403)
    product_id, row = await restocked(shop, customer)
    await change_product(shop, product_id, **gone)

    assert await render(shop, row) is None
    assert await waiting(shop, product_id) == []


# ---------------------------------------------------------------------------- sent by the outbox


async def test_the_outbox_sends_each_waiting_customer_one_notice(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    customers = [shop.chat(6501), shop.chat(6502)]
    for customer in customers:
        await wait_for(customer, product_id)
    await load(shop, product_id, "KEY-1")
    outbox: Outbox = shop.dispatcher["outbox"]
    mark = shop.telegram.mark()

    assert await outbox.send_due(shop.bot) == 2

    for customer in customers:
        [notice] = [Screen(call) for call in customer.calls_since(mark)]
        assert notice.text == "🔔 <b>Game key &lt;EU&gt; &amp; more</b> is back: 1 in stock."
    assert [state for _, _, state in await notices(shop)] == [OUTBOX_SENT, OUTBOX_SENT]
    mark = shop.telegram.mark()
    assert await outbox.send_due(shop.bot) == 0
    assert shop.telegram.calls[mark:] == []

    card = await customers[0].tap(notice, "Game key")
    assert "Buy for 25 ⭐" in " ".join(card.labels)


async def test_a_product_sold_out_before_its_notice_goes_sends_nothing(shop: ShopBot) -> None:
    product_id = await sold_out_product(shop)
    customer = shop.chat(6503)
    await wait_for(customer, product_id)
    await load(shop, product_id, "KEY-1")
    await sell_everything(shop, product_id)
    mark = shop.telegram.mark()

    assert await shop.dispatcher["outbox"].send_due(shop.bot) == 1

    assert shop.telegram.calls[mark:] == []
    assert await notices(shop) == [(customer.user_id, product_id, OUTBOX_FAILED)]
    assert await waiting(shop, product_id) == [customer.user_id]


async def test_customers_pressing_wait_during_a_load_are_told_or_see_it_in_stock(
    shop: ShopBot,
) -> None:
    """Each press is decided under the product's lock, before or after the load: nobody is
    left waiting for a product in stock, and whoever was told they would be told, is."""
    product_id = await sold_out_product(shop)
    customers = range(6601, 6601 + 40)
    presses = [
        shop.telegram.button_update(user, Restock(product_id=product_id).pack())
        for user in customers
    ]

    await asyncio.gather(shop.feed(*presses), load(shop, product_id, "KEY-1"))

    promised = {
        call.params["chat_id"]
        for call in shop.telegram.calls
        if call.method in ("sendMessage", "editMessageText")
        and str(call.params["text"]).startswith("🔔 We will tell you")
    }
    assert await waiting(shop, product_id) == []
    assert {chat for chat, _, _ in await notices(shop)} == promised
