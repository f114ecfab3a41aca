"""The shop lives in private chats, in-process through the real dispatcher: in a group the
bot answers /start (or a message meant for it) with only an invitation to a private chat,
stays silent otherwise, and a button pressed on a group message shows no private screen
there; a payment is recorded wherever it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.dao.models import Purchase, User
from bot.keyboards.menu import main_menu
from bot.shop.invoices import build_payload
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import ShopBot, running_shop

ADMIN, MEMBER = 9001, 5001
GROUP, SUPERGROUP = -4001, -1001234567890
INVITATION = "🛍 The shop works in a private chat with me: tap the button below to open it."
DEEP_LINK = "https://t.me/fake_shop_bot?start=shop"


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


def in_chat(shop: ShopBot, chat_id: int, mark: int) -> list[Call]:
    return [call for call in shop.telegram.calls[mark:] if call.params.get("chat_id") == chat_id]


async def said_in_group(shop: ShopBot, text: str, **options: int) -> list[Call]:
    """The member writes `text` in a group; the bot's calls for that group."""
    chat_id = options.pop("chat_id", GROUP)
    mark = shop.telegram.mark()
    await shop.feed(shop.telegram.group_text_update(MEMBER, text, chat_id=chat_id, **options))
    return in_chat(shop, chat_id, mark)


@pytest.mark.parametrize("chat_id", [GROUP, SUPERGROUP])
async def test_start_in_a_group_only_invites_to_a_private_chat(shop: ShopBot, chat_id: int) -> None:
    [invitation] = await said_in_group(shop, "/start", chat_id=chat_id)

    assert invitation.method == "sendMessage"
    assert invitation.params["text"] == INVITATION
    [[button]] = invitation.params["reply_markup"]["inline_keyboard"]
    assert (button["text"], button["url"]) == ("Open the shop", DEEP_LINK)
    assert await shop.rows(User) == []  # nobody registered from a group


async def test_the_deep_link_opens_the_shop_in_the_private_chat(shop: ShopBot) -> None:
    menu = await shop.chat(MEMBER).send("/start shop")  # what the invitation's link sends

    assert menu.text.startswith("Hello, Test!") and "🧾 My purchases" in menu.labels


@pytest.mark.parametrize(
    "text", ["/start@fake_shop_bot", "/catalog", "hello @fake_shop_bot", "@FAKE_SHOP_BOT menu?"]
)
async def test_a_message_meant_for_the_bot_gets_the_invitation(shop: ShopBot, text: str) -> None:
    [invitation] = await said_in_group(shop, text)

    assert invitation.params["text"] == INVITATION


async def test_a_reply_to_the_bot_gets_the_invitation(shop: ShopBot) -> None:
    sent = await shop.bot.send_message(GROUP, "An old message of the bot's")

    [invitation] = await said_in_group(shop, "what is this?", reply_to_message_id=sent.message_id)

    assert invitation.params["text"] == INVITATION


@pytest.mark.parametrize(
    "text", ["hello everyone", "/start@other_bot", "ask @someone_else", "/cancel@other_bot"]
)
async def test_group_chatter_not_meant_for_the_bot_is_left_alone(shop: ShopBot, text: str) -> None:
    mark = shop.telegram.mark()

    assert await said_in_group(shop, text) == []
    assert [call.method for call in shop.telegram.calls[mark:]] in ([], ["getMe"])


@pytest.mark.parametrize(("presser", "label"), [(MEMBER, "My purchases"), (ADMIN, "Admin panel")])
async def test_a_button_on_a_group_message_shows_no_screen_there(
    shop: ShopBot, presser: int, label: str
) -> None:
    """Someone's menu in a group (e.g. from before the bot kept out of groups): pressing it
    answers with an alert, and the group sees nothing."""
    menu = await shop.bot.send_message(GROUP, "Menu", reply_markup=main_menu(is_admin=True))
    [data] = [
        button.callback_data
        for row in menu.reply_markup.inline_keyboard  # type: ignore[union-attr]
        for button in row
        if label in button.text
    ]
    body = shop.telegram.button_update(presser, data, chat_id=GROUP)
    mark = shop.telegram.mark()

    await shop.feed(body)

    [answer] = shop.telegram.calls_of("answerCallbackQuery")
    assert answer.params["show_alert"] is True
    assert "only in a private chat: open @fake_shop_bot" in answer.params["text"]
    assert in_chat(shop, GROUP, mark) == []
    assert in_chat(shop, presser, mark) == []
    [shown] = shop.telegram.messages_in(GROUP)
    assert shown["text"] == "Menu"


async def test_the_admin_statistics_button_in_a_group_shows_nothing(shop: ShopBot) -> None:
    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    body = shop.telegram.button_update(ADMIN, panel.button("Statistics"), chat_id=GROUP)
    mark = shop.telegram.mark()

    await shop.feed(body)

    calls = shop.telegram.calls[mark:]
    assert [call.method for call in calls if call.method != "getMe"] == ["answerCallbackQuery"]
    assert calls[-1].params["show_alert"] is True


async def test_a_payment_arriving_in_a_group_is_still_recorded(shop: ShopBot) -> None:
    book_id = await shop.add_product(
        "E-books", name="Book", price=150, currency="XTR", hidden_content="key"
    )
    payload = build_payload(book_id, MEMBER)
    body = shop.telegram.payment_update(
        MEMBER, currency="XTR", total_amount=150, payload=payload, charge_id="in-group"
    )
    body["message"]["chat"] = {"id": GROUP, "type": "group", "title": "Group"}

    await shop.feed(body)

    [purchase] = await shop.rows(Purchase)
    assert purchase.charge_id == "in-group"
