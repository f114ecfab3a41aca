"""A rolling deploy on PostgreSQL: the previous release keeps serving (a /start, the catalog, a
Stars purchase) while the current release applies additive revisions, and after it.

The previous release is this code as it stands, serving in-process through the real dispatcher:
its models know nothing of the new revisions. The current release is this code plus the
test-only revisions of tests/migrations_testonly/rolling (new tables, then new columns on
users and purchases, nullable or with a constant default), applied by a real
`python main.py --migrate-only` that waits at a gate inside its first revision, holding the
migration lock. The README's expand/contract rules are what keep the previous release working.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.dao.models import Category, Product, Purchase
from tests.migrations_testonly.scenarios import Gates, at_gate, scenario, version
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import BotProcess, bot_env
from tests.support.shop import Chat, ShopBot, running_shop, texts

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

BUYER = 7001
PRICE = 25


async def _seed(shop: ShopBot) -> None:
    async def add(session: object) -> None:
        category = Category(name="Keys")
        session.add(  # type: ignore[attr-defined]
            Product(
                category=category,
                name="Game key",
                description="A key",
                price=PRICE,
                currency="XTR",
                hidden_content="KEY-1",
            )
        )

    await shop.run(add)  # type: ignore[arg-type]


async def _serve_a_customer(buyer: Chat, charge_id: str) -> None:
    """/start, the catalog, a product card, its invoice and a Stars payment, delivered."""
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    card = await buyer.tap(await buyer.tap(catalog, "Keys"), "Game key")
    [invoice] = (await buyer.press(card.button("Buy"))).of("sendInvoice")
    payload = str(invoice.params["payload"])
    answer = await buyer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    assert answer.params["ok"] is True
    mark = buyer.shop.telegram.mark()
    await buyer.pay(currency="XTR", total_amount=PRICE, payload=payload, charge_id=charge_id)
    assert "KEY-1" in texts(buyer.calls_since(mark))


async def test_the_previous_release_serves_while_and_after_the_current_one_migrates(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    gates = Gates(tmp_path / "gates")
    env = bot_env(
        database,
        EXTRA_MIGRATION_DIRS=str(scenario("rolling", into=tmp_path)),
        **gates.env,
    )
    async with running_shop(database) as shop:
        await _seed(shop)
        buyer = shop.chat(BUYER)
        await _serve_a_customer(buyer, "before")

        with BotProcess(["--migrate-only"], env, tmp_path) as current_release:
            await asyncio.to_thread(current_release.wait_for_output, at_gate("rolling1"))
            await _serve_a_customer(buyer, "during")
            gates.open("rolling1")
            assert await asyncio.to_thread(current_release.wait) == 0, current_release.output

        await _serve_a_customer(buyer, "after")
        charges = [purchase.charge_id for purchase in await shop.rows(Purchase)]

    assert sorted(charges) == ["after", "before", "during"]
    assert await asyncio.to_thread(version, database) == ["rolling2"]
    new_columns = await asyncio.to_thread(
        fetch_all,
        database,
        "SELECT count(*) FILTER (WHERE p.gift_note IS NULL), bool_and(NOT u.news_opt_in) "
        "FROM purchases p JOIN users u ON u.id = p.user_id",
    )
    assert new_columns == [(3, True)]
