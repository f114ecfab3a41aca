"""Photos in the catalog and inline mode, in-process through the real dispatcher on SQLite and
PostgreSQL: a product's card as a photo with its caption, a description too long for a caption
shown whole under the photo, moving from a text screen to a photo screen and back, a photo
edited into another in place, a file id Telegram refuses shown as text and logged once; the
admin sets and removes photos; `@bot words` from a customer in a group lists matching products
on sale (their photos too), with a deep link that opens the card, and nothing hidden."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bot.dao.models import Category, Product
from bot.keyboards.callbacks import CategoryPage, Menu, MenuAction, ProductCard
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import ShopBot, running_shop

CUSTOMER, ADMIN = 5601, 9601
LONG = "Очень подробное описание. " * 60  # over 1024 characters: too long for a caption


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


async def product(shop: ShopBot, name: str, **fields: object) -> int:
    return await shop.add_product(
        f"Cat {name}", name=name, price=5, currency="XTR", hidden_content="SECRET", **fields
    )


async def category_of(shop: ShopBot, product_id: int) -> int:
    [row] = await shop.rows(Product, Product.id == product_id)
    return int(row.category_id)


async def test_a_card_with_a_photo_and_back_to_text(shop: ShopBot) -> None:
    product_id = await product(shop, "Photo key", description="Short", photo="PHOTO-A")
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    page = await customer.press(
        CategoryPage(category_id=await category_of(shop, product_id)).pack()
    )
    # A text screen cannot become a photo: the card comes as a new photo message.
    pressed = await customer.press(page.screen.button("Photo key"))
    [card] = pressed.of("sendPhoto")
    assert card.params["photo"] == "PHOTO-A"
    assert "<b>Photo key</b>" in card.params["caption"] and "Short" in card.params["caption"]
    assert any("Buy" in label for label in _labels(card.params))
    # Back from the photo: the category page as text again.
    back = _data(card.params, "Back")
    shown = await customer.press(back)
    assert [call.method for call in shown.calls] == ["sendMessage"]
    assert "Cat Photo key" in shown.calls[0].params["text"]


async def test_a_long_description_is_shown_whole_under_its_photo(shop: ShopBot) -> None:
    product_id = await product(shop, "Long one", description=LONG, photo="PHOTO-L")
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    pressed = await customer.press(ProductCard(product_id=product_id).pack())
    [photo] = pressed.of("sendPhoto")
    assert photo.params["caption"] == "Long one" and "reply_markup" not in photo.params
    [text] = pressed.of("sendMessage")
    assert LONG.strip() in text.params["text"] and any(
        "Buy" in label for label in _labels(text.params)
    )


async def test_a_photo_screen_is_edited_into_another_in_place(shop: ShopBot) -> None:
    product_id = await product(shop, "In a photo category", photo="PHOTO-P")
    category_id = await category_of(shop, product_id)
    await shop.run(
        lambda session: session.execute(
            update(Category).where(Category.id == category_id).values(photo="PHOTO-C")
        )
    )
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    catalog = (await customer.press(Menu(action=MenuAction.CATALOG).pack())).screen
    pressed = await customer.press(catalog.button("In a photo category"))
    [page] = pressed.of("sendPhoto")
    assert page.params["photo"] == "PHOTO-C"
    # The button is on the bot's photo message: it is edited into the product's photo.
    message_id = shop.telegram.messages_in(CUSTOMER)[-1]["message_id"]
    card = await customer.press(_data(page.params, "In a photo category"))
    [edit] = card.of("editMessageMedia")
    assert edit.params["message_id"] == message_id
    assert edit.params["media"]["media"] == "PHOTO-P"
    assert "<b>In a photo category</b>" in edit.params["media"]["caption"]
    assert any("Buy" in label for label in _labels(edit.params))


async def test_a_photo_telegram_refuses_falls_back_to_text_logged_once(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    bad = f"BAD-FILE-{database.backend}"  # refused photos are remembered for the process
    product_id = await product(shop, "Broken photo", photo=bad)
    customer = shop.chat(CUSTOMER)
    await customer.send("/start")
    shop.telegram.set_failure(
        "sendPhoto",
        error_code=400,
        description="Bad Request: wrong file identifier/HTTP URL specified",
    )
    for _ in range(2):
        pressed = await customer.press(ProductCard(product_id=product_id).pack())
        assert "<b>Broken photo</b>" in pressed.screen.text
    assert len(shop.telegram.calls_of("sendPhoto")) == 1  # not tried again
    assert sum(f"Telegram refused photo {bad} " in line for line in shop.log) == 1


async def test_the_admin_sets_and_removes_a_photo(shop: ShopBot) -> None:
    product_id = await product(shop, "Needs a photo")
    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    products = await admin.tap(panel, "Products")
    card = await admin.tap(products, "Needs a photo")
    assert "Photo: none" in card.text
    assert "Send the new photo" in (await admin.tap(card, "Photo")).text
    assert "not a file" in (await admin.send("a text")).text
    assert "Photo saved" in (await admin.send_photo("PHOTO-NEW")).text
    [row] = await shop.rows(Product, Product.id == product_id)
    assert row.photo == "PHOTO-NEW"
    await admin.tap(card, "Photo")
    assert "Photo removed" in (await admin.send("/remove")).text
    [row] = await shop.rows(Product, Product.id == product_id)
    assert row.photo is None


def _labels(params: dict) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def _data(params: dict, part: str) -> str:
    markup = params.get("reply_markup") or {}
    [found] = [
        b["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for b in row
        if part in b["text"]
    ]
    return str(found)


async def test_inline_mode_lists_products_on_sale_to_anyone_in_a_group(shop: ShopBot) -> None:
    plain = await product(shop, "VPN ключ", description="На год")
    pictured = await product(shop, "VPN премиум", photo="PHOTO-V")
    await product(shop, "VPN скрытый", on_sale=False)
    shop.telegram.set_client_language(CUSTOMER, "ru")
    mark = shop.telegram.mark()
    await shop.feed(shop.telegram.inline_query_update(CUSTOMER, "vpn", chat_type="supergroup"))
    [answer] = [c for c in shop.telegram.calls[mark:] if c.method == "answerInlineQuery"]
    results = {result["id"]: result for result in answer.params["results"]}
    assert set(results) == {f"p{plain}", f"p{pictured}"}  # nothing hidden
    article, photo = results[f"p{plain}"], results[f"p{pictured}"]
    assert article["type"] == "article" and article["title"] == "VPN ключ"
    assert "На год" in article["input_message_content"]["message_text"]
    assert "SECRET" not in str(answer.params)  # a product's content never
    assert photo["type"] == "photo" and photo["photo_file_id"] == "PHOTO-V"
    [[open_button]] = article["reply_markup"]["inline_keyboard"]
    assert open_button["text"] == "🛍 Открыть в магазине"
    assert open_button["url"] == f"https://t.me/fake_shop_bot?start=p{plain}"
    assert answer.params["cache_time"] == 30 and answer.params["is_personal"] is True

    # The deep link opens the card in the bot.
    card = await shop.chat(CUSTOMER).send(f"/start p{plain}")
    assert "<b>VPN ключ</b>" in card.text and any("⭐" in label for label in card.labels)


async def test_inline_results_are_paged(database: ThrowawayDatabase) -> None:
    async with running_shop(database) as shop:
        for number in range(25):
            await product(shop, f"Item {number:02d}")
        mark = shop.telegram.mark()
        await shop.feed(shop.telegram.inline_query_update(CUSTOMER, ""))
        await shop.feed(shop.telegram.inline_query_update(CUSTOMER, "", offset="20"))
        first, second = [c for c in shop.telegram.calls[mark:] if c.method == "answerInlineQuery"]
        assert len(first.params["results"]) == 20 and first.params["next_offset"] == "20"
        assert len(second.params["results"]) == 5 and not second.params.get("next_offset")
