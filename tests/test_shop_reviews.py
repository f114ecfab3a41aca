"""Reviews, in-process through the real dispatcher on SQLite and PostgreSQL: a buyer rates a
delivered purchase (stars, then words or Skip) from the goods or from My purchases, once per
purchase and editable; the card shows the average and the count and a page of reviews; the
admins are told of a new one, once, and can hide it; nobody else can review, nor a refunded or
undelivered purchase, nor with forged buttons; a double tap or two writes at once make one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bot.dao.models import (
    OUTBOX_GOODS,
    OUTBOX_PENDING,
    OUTBOX_REVIEW,
    OutboxMessage,
    Product,
    Purchase,
    Review,
)
from bot.keyboards.callbacks import ProductCard, ProductReviews, RatePurchase, SkipReviewText
from bot.shop.invoices import build_payload
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, running_shop

BUYER, OTHER, ADMIN = 5101, 5102, 9101
NAME = "Game <key> & co"
ONLY_DELIVERED = "Only a purchase delivered to you can be rated."


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


@pytest.fixture
async def product_id(shop: ShopBot) -> int:
    return await shop.add_product(
        "Keys", name=NAME, price=25, currency="XTR", hidden_content="KEY-1"
    )


async def buy(shop: ShopBot, customer: Chat, product_id: int, charge: str) -> int:
    """The customer pays for the product (goods delivered at once); the purchase's id."""
    payload = build_payload(product_id, customer.user_id)
    await customer.send("/start")
    await customer.pay(currency="XTR", total_amount=25, payload=payload, charge_id=charge)
    [purchase] = await shop.rows(Purchase, Purchase.charge_id == charge)
    return int(purchase.id)


@pytest.fixture
async def purchase_id(shop: ShopBot, product_id: int) -> int:
    return await buy(shop, shop.chat(BUYER), product_id, "stars-review-1")


def rate(purchase_id: int, stars: int = 0) -> str:
    return RatePurchase(purchase_id=purchase_id, stars=stars).pack()


async def review(customer: Chat, purchase_id: int, stars: int, words: str | None) -> Screen:
    """Pick the stars from My purchases' ⭐, then send the words or press Skip."""
    await customer.tap(await customer.tap(await customer.send("/start"), "My purchases"), "Rate")
    asked = (await customer.press(rate(purchase_id, stars))).screen
    if words is None:
        return await customer.tap(asked, "Skip")
    return await customer.send(words)


async def card(customer: Chat) -> Screen:
    catalog = await customer.tap(await customer.send("/start"), "Catalog")
    return await customer.tap(await customer.tap(catalog, "Keys"), "Game")


async def reviews(shop: ShopBot) -> list[Review]:
    return await shop.rows(Review)


async def notices(shop: ShopBot) -> list[OutboxMessage]:
    return await shop.rows(OutboxMessage, OutboxMessage.kind == OUTBOX_REVIEW)


# ---------------------------------------------------------------------------- the buyer


async def test_the_goods_offer_rating_and_the_stars_come_in_a_new_message(
    shop: ShopBot, product_id: int
) -> None:
    buyer = shop.chat(BUYER)
    mark = shop.telegram.mark()
    purchase_id = await buy(shop, buyer, product_id, "stars-goods-1")
    [goods] = [call for call in buyer.calls_since(mark) if call.params.get("text") == "KEY-1"]
    assert Screen(goods).labels == ["⭐ Rate"]

    pressed = await buyer.press(Screen(goods).button("Rate"))

    assert [call.method for call in pressed.calls] == ["sendMessage"]  # the goods stay
    assert "How do you rate <b>Game &lt;key&gt; &amp; co</b>?" in pressed.screen.text
    assert pressed.screen.labels[:5] == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
    assert pressed.screen.button("4⭐") == rate(purchase_id, 4)


async def test_a_buyer_rates_with_words_and_the_card_shows_them(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer = shop.chat(BUYER)

    saved = await review(buyer, purchase_id, 4, "  Works <fine> & fast  ")

    assert "Your review of <b>Game &lt;key&gt; &amp; co</b> is saved: ★★★★☆" in saved.text
    [written] = await reviews(shop)
    assert (written.purchase_id, written.rating, written.text) == (
        purchase_id,
        4,
        "Works <fine> & fast",
    )
    shown = await card(buyer)
    assert "⭐ 4.0 of 5 (1 review)" in shown.text
    page = await buyer.tap(shown, "Reviews (1)")
    assert "💬 <b>Reviews of Game &lt;key&gt; &amp; co</b>" in page.text
    assert "★★★★☆ · " in page.text and "Works &lt;fine&gt; &amp; fast" in page.text
    back = await buyer.tap(page, "Back")
    assert "<b>Game &lt;key&gt; &amp; co</b>" in back.text


async def test_stars_alone_with_skip(shop: ShopBot, purchase_id: int) -> None:
    saved = await review(shop.chat(BUYER), purchase_id, 5, None)

    assert "is saved: ★★★★★" in saved.text
    [written] = await reviews(shop)
    assert (written.rating, written.text) == (5, None)


async def test_a_review_is_changed_not_added_and_skip_keeps_the_words(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer = shop.chat(BUYER)
    await review(buyer, purchase_id, 2, "Slow delivery")

    picker = (await buyer.press(rate(purchase_id))).screen
    assert "Your review now: ★★☆☆☆" in picker.text and "Slow delivery" in picker.text
    asked = await buyer.tap(picker, "5⭐")
    assert "Skip to keep yours" in asked.text
    await buyer.tap(asked, "Skip")

    [written] = await reviews(shop)
    assert (written.rating, written.text) == (5, "Slow delivery")
    await review(buyer, purchase_id, 3, "Fine after all")
    [written] = await reviews(shop)
    assert (written.rating, written.text) == (3, "Fine after all")
    assert "⭐ 3.0 of 5 (1 review)" in (await card(buyer)).text


async def test_the_average_of_several_buyers_and_the_pages(shop: ShopBot, product_id: int) -> None:
    ratings = [5, 4, 4, 2]
    for number, stars in enumerate(ratings):
        customer = shop.chat(BUYER + 10 + number)
        bought = await buy(shop, customer, product_id, f"stars-many-{number}")
        await review(customer, bought, stars, f"review number {number}")
    someone = shop.chat(OTHER)

    shown = await card(someone)
    assert "⭐ 3.8 of 5 (4 reviews)" in shown.text
    first = await someone.tap(shown, "Reviews (4)")
    assert "Page 1 of 2" in first.text
    assert [n for n in range(4) if f"review number {n}" in first.text] == [1, 2, 3]  # newest
    second = await someone.tap(first, "Next")
    assert "review number 0" in second.text and "Page 2 of 2" in second.text


async def test_words_are_checked_and_the_stars_wait_for_better_ones(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer = shop.chat(BUYER)
    await buyer.tap(await buyer.tap(await buyer.send("/start"), "My purchases"), "Rate")
    await buyer.press(rate(purchase_id, 3))

    too_long = await buyer.send("x" * 1001)
    assert "too long: 1001 characters, at most 1000" in too_long.text
    not_text = await buyer.send_document("FILE-1")
    assert "as a text message" in not_text.text
    assert await reviews(shop) == []

    saved = await buyer.send("y" * 1000)
    assert "is saved: ★★★☆☆" in saved.text
    [written] = await reviews(shop)
    assert written.text == "y" * 1000


async def test_the_review_speaks_russian(shop: ShopBot, product_id: int) -> None:
    shop.telegram.set_client_language(OTHER, "ru")
    buyer = shop.chat(OTHER)
    purchase_id = await buy(shop, buyer, product_id, "stars-ru-1")

    await buyer.send("/start")
    picker = (await buyer.press(rate(purchase_id))).screen
    assert "Как вы оцениваете" in picker.text
    await buyer.press(rate(purchase_id, 4))
    saved = await buyer.send("Хорошо")

    assert "Спасибо" in saved.text
    shown = (await buyer.press(ProductCard(product_id=product_id).pack())).screen
    assert "⭐ 4,0 из 5 (1 отзыв)" in shown.text
    assert "💬 Отзывы (1)" in shown.labels


# ---------------------------------------------------------------------------- who may review


async def test_nobody_else_can_rate_a_purchase(shop: ShopBot, purchase_id: int) -> None:
    other = shop.chat(OTHER)
    await other.send("/start")

    assert (await other.press(rate(purchase_id))).notice == ONLY_DELIVERED
    assert (await other.press(rate(purchase_id, 5))).notice == ONLY_DELIVERED
    skipped = await other.press(SkipReviewText(purchase_id=purchase_id).pack())
    assert skipped.notice == str(STALE)
    assert await reviews(shop) == []


@pytest.mark.parametrize(
    "forged",
    ["rate:1:6:0", "rate:1:-1:0", "rate:0:1:0", "rate:abc:1:0", "revs:1:0:-1", "admrev:1:1"],
)
async def test_forged_buttons_are_stale(shop: ShopBot, purchase_id: int, forged: str) -> None:
    buyer = shop.chat(BUYER)
    await buyer.send("/start")

    assert (await buyer.press(forged)).notice == str(STALE)
    assert await reviews(shop) == []


async def test_a_refunded_purchase_cannot_be_rated_nor_is_counted(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer = shop.chat(BUYER)
    await review(buyer, purchase_id, 1, "Bad")
    await shop.run(
        lambda session: session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(refunded_at=Purchase.created_at)
        )
    )

    assert (await buyer.press(rate(purchase_id))).notice == ONLY_DELIVERED
    shown = await card(buyer)
    assert "of 5" not in shown.text and "Reviews" not in " ".join(shown.labels)


async def test_goods_still_on_their_way_cannot_be_rated_yet(
    shop: ShopBot, purchase_id: int
) -> None:
    await shop.run(
        lambda session: session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.purchase_id == purchase_id, OutboxMessage.kind == OUTBOX_GOODS)
            .values(state=OUTBOX_PENDING)
        )
    )

    assert (await shop.chat(BUYER).press(rate(purchase_id))).notice == ONLY_DELIVERED


async def test_a_double_tap_on_skip_saves_one_review_and_tells_the_admin_once(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer = shop.chat(BUYER)
    await buyer.send("/start")
    await buyer.press(rate(purchase_id, 4))
    skip = SkipReviewText(purchase_id=purchase_id).pack()

    await buyer.press(skip)
    again = await buyer.press(skip)

    assert again.notice == "Your review is saved already."
    assert len(await reviews(shop)) == 1
    assert len(await notices(shop)) == 1


async def test_two_first_reviews_at_once_make_one(shop: ShopBot, purchase_id: int) -> None:
    buyer = shop.chat(BUYER)
    await buyer.send("/start")
    await buyer.press(rate(purchase_id, 2))
    skip = shop.telegram.button_update(BUYER, SkipReviewText(purchase_id=purchase_id).pack())
    words = shop.telegram.text_update(BUYER, "Both at once")

    await shop.feed(skip, words)

    [written] = await reviews(shop)
    assert written.rating == 2
    assert [row.chat_id for row in await notices(shop)] == [ADMIN]


# ---------------------------------------------------------------------------- the admins


async def test_the_admin_is_told_of_a_new_review_once_and_can_hide_it(
    shop: ShopBot, purchase_id: int
) -> None:
    buyer, admin = shop.chat(BUYER, first_name="Ann"), shop.chat(ADMIN)
    await review(buyer, purchase_id, 1, "Never <worked>")
    await review(buyer, purchase_id, 2, "Changed my mind")  # a change tells nobody

    [row] = await notices(shop)
    assert row.chat_id == ADMIN
    mark = shop.telegram.mark()
    assert await shop.dispatcher["outbox"].send_due(shop.bot) == 1
    [told] = [call for call in admin.calls_since(mark) if call.method == "sendMessage"]
    notice = Screen(told)
    assert "New review of <b>Game &lt;key&gt; &amp; co</b>" in notice.text
    assert f"(purchase #{purchase_id})" in notice.text and "Ann" in notice.text
    assert "★★☆☆☆" in notice.text and "Changed my mind" in notice.text

    hidden = await admin.tap(notice, "Hide it")
    assert "Hidden: the shop does not show it." in hidden.text
    assert (await reviews(shop))[0].hidden_at is not None
    shown = await card(buyer)
    assert "of 5" not in shown.text and "Reviews" not in " ".join(shown.labels)

    await admin.tap(hidden, "Show it again")
    assert "⭐ 2.0 of 5 (1 review)" in (await card(buyer)).text


async def test_a_customer_cannot_hide_a_review(shop: ShopBot, purchase_id: int) -> None:
    buyer = shop.chat(BUYER)
    await review(buyer, purchase_id, 5, None)
    [written] = await reviews(shop)

    pressed = await shop.chat(OTHER).press(f"admrev:{written.id}:1")

    assert pressed.notice == str(STALE)
    assert (await reviews(shop))[0].hidden_at is None


async def test_reviews_of_a_product_off_sale_are_not_shown(
    shop: ShopBot, product_id: int, purchase_id: int
) -> None:
    await review(shop.chat(BUYER), purchase_id, 5, None)
    await shop.run(
        lambda session: session.execute(
            update(Product).where(Product.id == product_id).values(on_sale=False)
        )
    )
    page = ProductReviews(product_id=product_id).pack()

    assert (await shop.chat(OTHER).press(page)).notice == str(STALE)


async def test_the_product_without_reviews_shows_no_rating(shop: ShopBot, product_id: int) -> None:
    shown = await card(shop.chat(OTHER))

    assert "of 5" not in shown.text
    assert "<b>Game &lt;key&gt; &amp; co</b>" in shown.text
    assert not any("Reviews" in label for label in shown.labels)


async def test_an_admin_hides_a_review_from_the_reviews_page(
    shop: ShopBot, product_id: int, purchase_id: int
) -> None:
    await review(shop.chat(BUYER), purchase_id, 1, "Spam spam")
    [written] = await reviews(shop)
    page = ProductReviews(product_id=product_id).pack()
    customer_page = (await shop.chat(OTHER).press(page)).screen
    assert not any("Hide" in label for label in customer_page.labels)
    assert f"#{written.id}" not in customer_page.text
    admin = shop.chat(ADMIN)
    await admin.send("/start")

    admin_page = (await admin.press(page)).screen
    assert f"· #{written.id}" in admin_page.text
    hidden = await admin.tap(admin_page, f"Hide #{written.id}")

    assert "Hidden: the shop does not show it." in hidden.text
    assert (await reviews(shop))[0].hidden_at is not None
    assert (await shop.chat(OTHER).press(page)).notice == str(STALE)  # no review left to show
