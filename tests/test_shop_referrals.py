"""Referrals, in-process through the real dispatcher on SQLite and PostgreSQL: the link on 👥,
a new user tied at first contact, the inviter's personal code for the invited buyer's first
purchase with both told, and each rule against abuse in the README: not oneself, only at
first contact (so no cycle), unknown links ignored, only the first purchase, a personal code
nobody else can use, a refund taking back an unspent reward."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.dao.models import PromoCode, Purchase, Referral, User
from bot.keyboards.callbacks import AdminPromos, EnterPromo, Menu, MenuAction
from bot.shop.invoices import build_payload
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, ShopBot, running_shop, texts

INVITER, FRIEND, OTHER, ADMIN = 5301, 5302, 5303, 9301


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN), referral_reward_percent=15) as running:
        yield running


@pytest.fixture
async def product_id(shop: ShopBot) -> int:
    return await shop.add_product(
        "Keys", name="Game key", price=20, currency="XTR", hidden_content="KEY-1"
    )


async def pay(shop: ShopBot, customer: Chat, product_id: int, charge: str, price: int = 20) -> int:
    payload = build_payload(product_id, customer.user_id)
    await customer.pay(currency="XTR", total_amount=price, payload=payload, charge_id=charge)
    [purchase] = await shop.rows(Purchase, Purchase.charge_id == charge)
    return int(purchase.id)


async def ties(shop: ShopBot) -> list[tuple[int, int]]:
    """(invited, inviter) by Telegram id."""
    users = {user.id: user.telegram_id for user in await shop.rows(User)}
    return [(users[row.invited_id], users[row.inviter_id]) for row in await shop.rows(Referral)]


async def rewards(shop: ShopBot) -> list[PromoCode]:
    return await shop.rows(PromoCode, PromoCode.owner_telegram_id.is_not(None))


async def invited(shop: ShopBot) -> Chat:
    """INVITER is a user; FRIEND arrives through their link."""
    await shop.chat(INVITER).send("/start")
    friend = shop.chat(FRIEND, first_name="Bob <b>")
    await friend.send(f"/start r{INVITER}")
    return friend


async def test_the_link_ties_a_new_user_and_their_first_purchase_rewards_the_inviter(
    shop: ShopBot, product_id: int
) -> None:
    inviter = shop.chat(INVITER)
    screen = await inviter.tap(await inviter.send("/start"), "Invite friends")
    assert f"https://t.me/fake_shop_bot?start=r{INVITER}" in screen.text
    assert "15% off one purchase" in screen.text and "0 people came through it." in screen.text
    friend = await invited(shop)
    assert await ties(shop) == [(FRIEND, INVITER)]
    mark = shop.telegram.mark()

    purchase_id = await pay(shop, friend, product_id, "first-1")

    [reward] = await rewards(shop)
    assert (reward.owner_telegram_id, reward.percent, reward.max_uses) == (INVITER, 15, 1)
    assert reward.earned_by_purchase_id == purchase_id
    [told] = texts(inviter.calls_since(mark))
    assert "Bob &lt;b&gt; came through your invitation" in told and reward.code in told
    assert any(
        "earned the friend who invited you a reward" in t for t in texts(friend.calls_since(mark))
    )
    screen = (await inviter.press(Menu(action=MenuAction.INVITE).pack())).screen
    assert "1 person came through it." in screen.text
    assert f"<code>{reward.code}</code> — 15% — yours to use" in screen.text

    listed = (await shop.chat(ADMIN).press(AdminPromos(page=0).pack())).screen
    assert f"<code>{reward.code}</code> — 15% — every product — only for user {INVITER}" in (
        listed.text
    )
    assert "at most 1 use — 1 per buyer" in listed.text
    # The reward is the inviter's own: 15% off 20 ⭐ is 17 ⭐ for them, no code at all for others.
    await inviter.press(EnterPromo(product_id=product_id).pack())
    assert "<b>17 ⭐</b>" in (await inviter.send(reward.code.lower())).text
    other = shop.chat(OTHER)
    await other.send("/start")
    await other.press(EnterPromo(product_id=product_id).pack())
    assert "There is no such promo code." in (await other.send(reward.code)).text


async def test_a_second_purchase_rewards_nothing_more(shop: ShopBot, product_id: int) -> None:
    friend = await invited(shop)
    await pay(shop, friend, product_id, "first-1")
    await pay(shop, friend, product_id, "second-1")

    assert len(await rewards(shop)) == 1


async def test_nobody_invites_themselves(shop: ShopBot, product_id: int) -> None:
    await shop.chat(FRIEND).send(f"/start r{FRIEND}")

    assert await ties(shop) == []


async def test_only_a_first_contact_is_tied_so_no_cycle_can_be_made(
    shop: ShopBot, product_id: int
) -> None:
    await invited(shop)  # FRIEND invited by INVITER

    await shop.chat(INVITER).send(f"/start r{FRIEND}")  # INVITER is known already
    await shop.chat(FRIEND).send(f"/start r{OTHER}")  # tied once, for good

    assert await ties(shop) == [(FRIEND, INVITER)]


@pytest.mark.parametrize("argument", ["r999999", "rabc", "r0", "hello", "r" + "9" * 30])
async def test_links_naming_nobody_are_ignored_and_start_works(
    shop: ShopBot, argument: str
) -> None:
    answer = await shop.chat(FRIEND).send(f"/start {argument}")

    assert "Welcome to the shop" in answer.text
    assert await ties(shop) == []
    assert [user.telegram_id for user in await shop.rows(User)] == [FRIEND]


async def test_a_refund_takes_back_an_unspent_reward(shop: ShopBot, product_id: int) -> None:
    friend = await invited(shop)
    purchase_id = await pay(shop, friend, product_id, "first-1")
    admin = shop.chat(ADMIN)

    card = await admin.send(f"/purchase {purchase_id}")
    await admin.tap(await admin.tap(card, "Refund"), "Yes, refund")

    [reward] = await rewards(shop)
    assert reward.active is False
    screen = (await shop.chat(INVITER).press(Menu(action=MenuAction.INVITE).pack())).screen
    assert "taken back" in screen.text
    # A purchase after a refunded first one earns nothing: else buy, refund, buy farms codes.
    await pay(shop, friend, product_id, "again-1")
    assert len(await rewards(shop)) == 1


async def test_a_spent_reward_stays_spent_after_the_refund(shop: ShopBot, product_id: int) -> None:
    friend = await invited(shop)
    purchase_id = await pay(shop, friend, product_id, "first-1")
    [reward] = await rewards(shop)
    inviter = shop.chat(INVITER)
    payload = build_payload(product_id, INVITER, reward.id)
    await inviter.pre_checkout(currency="XTR", total_amount=17, payload=payload)
    await inviter.pay(currency="XTR", total_amount=17, payload=payload, charge_id="reward-1")

    await shop.feed(shop.telegram.refund_update(FRIEND, charge_id="first-1", total_amount=20))

    [purchase] = await shop.rows(Purchase, Purchase.id == purchase_id)
    assert purchase.refunded_at is not None
    [reward] = await rewards(shop)
    assert reward.active is True  # nothing to take back: it was spent
    screen = (await inviter.press(Menu(action=MenuAction.INVITE).pack())).screen
    assert f"<code>{reward.code}</code> — 15% — used" in screen.text


async def test_no_reward_when_the_shop_gives_none(database: ThrowawayDatabase) -> None:
    async with running_shop(database, referral_reward_percent=0) as shop:
        product_id = await shop.add_product("Keys", name="Key", price=20, currency="XTR")
        friend = await invited(shop)
        await pay(shop, friend, product_id, "first-1")

        assert await ties(shop) == [(FRIEND, INVITER)]
        assert await rewards(shop) == []
        screen = await shop.chat(INVITER).tap(await shop.chat(INVITER).send("/start"), "Invite")
        assert "% off" not in screen.text


async def test_two_first_purchases_at_once_reward_once(shop: ShopBot, product_id: int) -> None:
    other_product = await shop.add_product("Books", name="Book", price=20, currency="XTR")
    await invited(shop)

    await shop.feed(
        *(
            shop.telegram.payment_update(
                FRIEND,
                currency="XTR",
                total_amount=20,
                payload=build_payload(product, FRIEND),
                charge_id=f"at-once-{product}",
            )
            for product in (product_id, other_product)
        )
    )

    assert len(await shop.rows(Purchase)) == 2
    assert len(await rewards(shop)) == 1
