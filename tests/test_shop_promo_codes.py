"""Promo codes, in-process through the real dispatcher on SQLite and PostgreSQL: a buyer types a
code on a card and buys at its price (the invoice, pre-checkout and the purchase agree); every
reason a code does not apply; the price floor; buyers racing for a code's last use; a payment
that arrives after the code ran out; the admins' commands, list, switch and statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from bot.dao.models import KIND_STOCK, PromoCode, PromoUse, Purchase
from bot.keyboards.callbacks import Admin, AdminAction, AdminPromos, BuyWithCode, EnterPromo
from bot.shop.invoices import build_payload
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, running_shop, texts

BUYER, OTHER, ADMIN = 5201, 5202, 9201
PRICE = 25


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


@pytest.fixture
async def product_id(shop: ShopBot) -> int:
    return await shop.add_product(
        "Keys", name="Game key", price=PRICE, currency="XTR", hidden_content="KEY-1"
    )


async def admin_says(shop: ShopBot, command: str) -> str:
    admin = shop.chat(ADMIN)
    return (await admin.send(command)).text


async def code_row(shop: ShopBot, code: str) -> PromoCode:
    [row] = await shop.rows(PromoCode, PromoCode.code == code)
    return row


async def enter(customer: Chat, product_id: int, code: str) -> Screen:
    """The customer opens the card, presses 🏷 and types the code; the bot's answer."""
    await customer.send("/start")
    asked = (await customer.press(EnterPromo(product_id=product_id).pack())).screen
    assert "Send your promo code for <b>Game key</b>" in asked.text
    return await customer.send(code)


async def invoice_of(customer: Chat, card: Screen) -> Call:
    [sent] = (await customer.press(card.button("Buy"))).of("sendInvoice")
    return sent


def amount(invoice: Call) -> int:
    return int(invoice.params["prices"][0]["amount"])


async def uses(shop: ShopBot) -> list[PromoUse]:
    return await shop.rows(PromoUse)


# ---------------------------------------------------------------------------- the buyer


async def test_the_card_offers_a_code_only_while_one_is_on(shop: ShopBot, product_id: int) -> None:
    buyer = shop.chat(BUYER)

    async def card() -> Screen:
        catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
        return await buyer.tap(await buyer.tap(catalog, "Keys"), "Game key")

    assert "🏷 Promo code" not in (await card()).labels
    await admin_says(shop, "/promo_new HELLO 20%")
    state = shop.dispatcher.fsm.get_context(shop.bot, chat_id=BUYER, user_id=BUYER)

    asked = await buyer.tap(await card(), "Promo code")
    assert await state.get_state() is not None
    back = await buyer.tap(asked, "Back")  # changed their mind: the card, and no code asked
    assert await state.get_state() is None and "<b>Game key</b>" in back.text
    await buyer.tap(back, "Promo code")
    priced = await buyer.send("hello")
    assert priced.button("Buy").startswith("buyc:")
    code = await code_row(shop, "HELLO")
    await shop.chat(ADMIN).press(f"admpc:{code.id}:0:0")  # switched off: 🏷 goes
    assert "🏷 Promo code" not in (await card()).labels


async def test_a_buyer_pays_the_price_a_code_makes(shop: ShopBot, product_id: int) -> None:
    assert "Made" in await admin_says(shop, "/promo_new WINTER20 20%")
    buyer = shop.chat(BUYER)

    card = await enter(buyer, product_id, "  winter20 ")

    assert "Promo code <code>WINTER20</code>: 20% off." in card.text
    assert "Price: <s>25 ⭐</s> <b>20 ⭐</b> with promo code <code>WINTER20</code>" in card.text
    invoice = await invoice_of(buyer, card)
    code = await code_row(shop, "WINTER20")
    payload = build_payload(product_id, BUYER, code.id)
    assert (amount(invoice), invoice.params["payload"]) == (20, payload)

    answer = await buyer.pre_checkout(currency="XTR", total_amount=20, payload=payload)
    assert answer.params["ok"] is True
    [held] = await uses(shop)
    assert (held.telegram_id, held.purchase_id, held.held_until is not None) == (BUYER, None, True)
    await buyer.pay(currency="XTR", total_amount=20, payload=payload, charge_id="promo-1")

    [purchase] = await shop.rows(Purchase)
    assert purchase.amount == 20
    [spent] = await uses(shop)
    assert (spent.purchase_id, spent.discount, spent.held_until) == (purchase.id, 5, None)
    admin = shop.chat(ADMIN)
    panel = (await admin.press(AdminPromos(page=0).pack())).screen
    assert "<code>WINTER20</code> — 20% — every product — used 1, 5 ⭐ off in all" in panel.text
    stats = (await admin.press(Admin(action=AdminAction.STATS).pack())).screen
    assert "🏷 Promo codes: 1 use, 5 ⭐ off" in stats.text


@pytest.mark.parametrize(
    ("terms", "answer"),
    [
        ("20% category=999", "There is no category #999."),
        ("20% until=2020-01-31", "This promo code is no longer valid."),
        ("20% from=2099-01-01", "This promo code is not valid yet."),
        ("200RUB", "This promo code does not apply to this product."),
        ("1%", "This promo code takes nothing off this product's price."),
    ],
)
async def test_a_code_that_does_not_apply_is_refused_with_the_reason(
    shop: ShopBot, product_id: int, terms: str, answer: str
) -> None:
    made = await admin_says(shop, f"/promo_new SALE {terms}")
    if not made.startswith("🏷 Made"):
        assert made == answer  # the admin's own refusal
        return

    refused = await enter(shop.chat(BUYER), product_id, "sale")

    assert refused.text == f"{answer} Send another code, or /cancel."


async def test_unknown_switched_off_and_other_products_codes_are_refused(
    shop: ShopBot, product_id: int
) -> None:
    other_product = await shop.add_product("Books", name="Book", price=10, currency="XTR")
    await admin_says(shop, f"/promo_new BOOKS 50% product={other_product}")
    await admin_says(shop, "/promo_new OFF 50%")
    off = await code_row(shop, "OFF")
    await shop.chat(ADMIN).press(f"admpc:{off.id}:0:0")
    buyer = shop.chat(BUYER)

    assert "There is no such promo code." in (await enter(buyer, product_id, "NOPE")).text
    assert "There is no such promo code." in (await buyer.send("no!")).text  # not even a code
    assert "does not apply to this product" in (await buyer.send("books")).text
    assert "no longer valid" in (await buyer.send("off")).text
    assert (await code_row(shop, "OFF")).active is False


async def test_the_price_never_falls_below_one_star(shop: ShopBot, product_id: int) -> None:
    await admin_says(shop, "/promo_new HUGE 99%")
    await admin_says(shop, "/promo_new FIXED 500XTR")
    buyer = shop.chat(BUYER)

    assert "<b>1 ⭐</b>" in (await enter(buyer, product_id, "HUGE")).text
    assert "<b>1 ⭐</b>" in (await enter(buyer, product_id, "FIXED")).text


async def test_per_buyer_and_total_limits(shop: ShopBot, product_id: int) -> None:
    await admin_says(shop, "/promo_new ONCE 20% per_user=1 uses=2")
    code = await code_row(shop, "ONCE")
    payload = build_payload(product_id, BUYER, code.id)
    buyer = shop.chat(BUYER)
    await buyer.send("/start")
    await buyer.pre_checkout(currency="XTR", total_amount=20, payload=payload)
    await buyer.pay(currency="XTR", total_amount=20, payload=payload, charge_id="once-1")

    assert "You have already used this promo code." in (await enter(buyer, product_id, "ONCE")).text
    other = shop.chat(OTHER)
    assert "<b>20 ⭐</b>" in (await enter(other, product_id, "ONCE")).text
    other_payload = build_payload(product_id, OTHER, code.id)
    await other.pre_checkout(currency="XTR", total_amount=20, payload=other_payload)
    await other.pay(currency="XTR", total_amount=20, payload=other_payload, charge_id="once-2")
    third = shop.chat(OTHER + 1)
    assert "This promo code has been used up." in (await enter(third, product_id, "ONCE")).text


async def test_pre_checkout_refuses_a_code_switched_off_and_the_full_price(
    shop: ShopBot, product_id: int
) -> None:
    await admin_says(shop, "/promo_new LATE 20%")
    code = await code_row(shop, "LATE")
    payload = build_payload(product_id, BUYER, code.id)
    buyer = shop.chat(BUYER)
    await buyer.send("/start")

    full = await buyer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    assert (
        full.params["ok"] is False
        and "price of this product has changed" in full.params["error_message"]
    )
    assert await uses(shop) == []  # the hold went with the refusal
    await shop.run(
        lambda session: session.execute(
            update(PromoCode).where(PromoCode.id == code.id).values(active=False)
        )
    )
    switched_off = await buyer.pre_checkout(currency="XTR", total_amount=20, payload=payload)
    assert switched_off.params["ok"] is False
    assert switched_off.params["error_message"] == "This promo code is no longer valid."
    assert await uses(shop) == []


async def test_buy_with_a_forged_or_dead_code_is_refused(shop: ShopBot, product_id: int) -> None:
    buyer = shop.chat(BUYER)
    await buyer.send("/start")

    forged = await buyer.press(BuyWithCode(product_id=product_id, promo=999).pack())

    assert forged.notice == "There is no such promo code."
    assert forged.of("sendInvoice") == []
    assert (await buyer.press(f"buyc:{product_id}:abc")).notice == str(STALE)


async def test_a_stock_product_sold_out_releases_the_held_use(shop: ShopBot) -> None:
    stock_id = await shop.add_product(
        "Stock", name="Game key", price=PRICE, currency="XTR", kind=KIND_STOCK
    )
    await admin_says(shop, "/promo_new STOCKY 20%")
    code = await code_row(shop, "STOCKY")
    buyer = shop.chat(BUYER)
    await buyer.send("/start")

    payload = build_payload(stock_id, BUYER, code.id)
    refused = await buyer.pre_checkout(currency="XTR", total_amount=20, payload=payload)

    assert refused.params["ok"] is False and "sold out" in refused.params["error_message"]
    assert await uses(shop) == []


# ------------------------------------------------------------- races and late payments


async def test_buyers_racing_for_a_last_use_get_it_once(shop: ShopBot, product_id: int) -> None:
    await admin_says(shop, "/promo_new LAST 20% uses=1")
    code = await code_row(shop, "LAST")
    buyers = range(6201, 6211)
    for buyer in buyers:
        await shop.chat(buyer).send("/start")
    mark = shop.telegram.mark()

    await shop.feed(
        *(
            shop.telegram.pre_checkout_update(
                buyer,
                currency="XTR",
                total_amount=20,
                payload=build_payload(product_id, buyer, code.id),
            )
            for buyer in buyers
        )
    )

    answers: list[dict[str, Any]] = [
        call.params for call in shop.telegram.calls[mark:] if "ok" in call.params
    ]
    assert sorted(params["ok"] for params in answers) == [False] * 9 + [True]
    assert {params.get("error_message") for params in answers if not params["ok"]} == {
        "This promo code has been used up."
    }
    [held] = await uses(shop)
    assert held.purchase_id is None and held.telegram_id in buyers


async def test_a_payment_after_the_code_ran_out_is_honoured_and_logged(
    shop: ShopBot, product_id: int
) -> None:
    await admin_says(shop, "/promo_new GONE 20% uses=1")
    code = await code_row(shop, "GONE")
    first, second = shop.chat(BUYER), shop.chat(OTHER)
    payload = build_payload(product_id, BUYER, code.id)
    await first.send("/start")
    assert (await first.pre_checkout(currency="XTR", total_amount=20, payload=payload)).params["ok"]
    await first.pay(currency="XTR", total_amount=20, payload=payload, charge_id="gone-1")
    assert not any("without a held use" in line for line in shop.log)
    # The second pays without a held use: its hold expired, and the code ran out meanwhile.
    await second.send("/start")
    late = build_payload(product_id, OTHER, code.id)
    await second.pay(currency="XTR", total_amount=20, payload=late, charge_id="gone-2")

    purchases = await shop.rows(Purchase)
    assert [purchase.amount for purchase in purchases] == [20, 20]
    assert len([use for use in await uses(shop) if use.purchase_id]) == 2
    assert any("without a held use; honoured at the price paid" in line for line in shop.log)
    assert texts(second.calls_since(0))[-1] == "KEY-1"  # delivered all the same


# ---------------------------------------------------------------------------- the admins


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/promo_new", "A code is 3 to 32 letters A-Z, digits, - or _."),
        ("/promo_new AB 20%", "A code is 3 to 32 letters A-Z, digits, - or _."),
        ("/promo_new SALE", "Say what the code takes off: 20% or 50XTR."),
        ("/promo_new SALE 120%", "I do not understand “120%”."),
        ("/promo_new SALE 20% uses=0", "“uses=0”: a whole number goes here, or - for none."),
        ("/promo_new SALE 20% until=31.12.2026", "“until=31.12.2026”: a date like 2026-12-31"),
        ("/promo_new SALE 20% product=1 category=1", "A code is for one product or one category"),
        ("/promo_new SALE 20% product=999", "There is no product #999."),
        ("/promo_new SALE 0XTR", "The price must be greater than zero"),
        (
            "/promo_new SALE 20% from=2026-12-31 until=2026-01-01",
            "The last day (until=…) must not be before",
        ),
    ],
)
async def test_bad_admin_input_gets_one_line_saying_what_to_send(
    shop: ShopBot, product_id: int, command: str, answer: str
) -> None:
    said = await admin_says(shop, command)

    assert said.startswith(answer)
    assert "\n" not in said
    assert await shop.rows(PromoCode) == []


async def test_admins_make_change_list_and_switch_codes(shop: ShopBot, product_id: int) -> None:
    made = await admin_says(shop, f"/promo_new Keys-10 10XTR product={product_id} uses=5")
    assert made.startswith("🏷 Made: 🟢 <code>KEYS-10</code> — 10 ⭐ — product #")
    assert "at most 5 uses" in made
    assert "exists already" in await admin_says(shop, "/promo_new keys-10 20%")
    changed = await admin_says(shop, "/promo_edit KEYS-10 15% uses=- per_user=2 until=2099-12-31")
    assert "🏷 Changed: 🟢 <code>KEYS-10</code> — 15% — product #" in changed
    assert "at most" not in changed and "2 per buyer" in changed and "until" in changed
    assert await admin_says(shop, "/promo_edit NOPE 10%") == "There is no code NOPE."

    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    listed = await admin.tap(panel, "Promo codes")
    assert "KEYS-10" in listed.text and "not used yet" in listed.text
    switched = await admin.tap(listed, "Switch KEYS-10 off")
    assert "⚪️ <code>KEYS-10</code>" in switched.text
    assert (await code_row(shop, "KEYS-10")).active is False
    assert "no longer valid" in (await enter(shop.chat(BUYER), product_id, "KEYS-10")).text


async def test_customers_cannot_make_or_switch_codes(shop: ShopBot, product_id: int) -> None:
    await admin_says(shop, "/promo_new MINE 20%")
    code = await code_row(shop, "MINE")
    customer = shop.chat(BUYER)
    await customer.send("/start")

    await shop.feed(shop.telegram.text_update(BUYER, "/promo_new THEIRS 90%"))
    pressed = await customer.press(f"admpc:{code.id}:0:0")

    assert pressed.notice == str(STALE)
    assert [row.code for row in await shop.rows(PromoCode)] == ["MINE"]
    assert (await code_row(shop, "MINE")).active is True
