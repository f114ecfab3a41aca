"""Every screen and button, walked as a Russian and as an English customer and admin,
in-process through the real dispatcher: the Russian walk shows no English (merchant content and
codes aside), the English walk no Russian.

The walk presses every button it meets (breadth first, each callback once), then does what
buttons cannot: the forms with wrong answers, a refused pre-checkout, a payment (its goods,
the admin's sale notice), /purchase and its refund screen, a broadcast, unknown messages."""

from __future__ import annotations

import html
import re
from collections import deque
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import KIND_STOCK, Category, Product, StockUnit
from bot.dao.stock import content_hash
from bot.keyboards.callbacks import EnterPromo, RatePurchase
from bot.shop.invoices import build_payload
from tests.fakes.telegram import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, Screen, ShopBot, running_shop

ADMIN, CUSTOMER = 9101, 9102
# Merchant content without words of any language: what the walk must not count as either.
CATEGORY, PRODUCT, SOLD_OUT, IN_STOCK, PRICE = "★ 7", "P-1", "P-2", "P-4", 5
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN_WORD = re.compile(r"(?<![/\w])[A-Za-z]{2,}")
# Latin words a Russian screen may show: names, codes and file types, not English.
NOT_ENGLISH = frozenset(
    {"Telegram", "Stars", "UTC", "id", "ID", "txt", "csv", "XTR", "English", "HTML"}
)
# A link, and an option of /promo_new or /promo_edit (`uses=N`): the same in every language.
NOT_WORDS = re.compile(r"https?://\S+|\w+=\S+")
MAX_PRESSES = 150
TAG = re.compile(r"<[^>]+>")


async def seed(session: AsyncSession) -> int:
    category = Category(name=CATEGORY)
    product = Product(
        category=category,
        name=PRODUCT,
        description="#1",
        price=PRICE,
        currency="XTR",
        hidden_content="K-1",
    )
    sold_out, in_stock = (
        Product(category=category, name=name, price=PRICE, currency="XTR", kind=KIND_STOCK)
        for name in (SOLD_OUT, IN_STOCK)
    )
    session.add_all([product, sold_out, in_stock])
    await session.flush()
    session.add(StockUnit(product_id=in_stock.id, content="U-1", content_hash=content_hash("U-1")))
    return product.id


def shown(calls: list[Call]) -> list[str]:
    """Every text a person sees in these calls: messages, captions, alerts, refusals, buttons."""
    texts = []
    for call in calls:
        params = call.params
        if call.method.lower() == "sendinvoice":  # title and description are the merchant's
            continue
        for key in ("text", "caption", "error_message"):
            if params.get(key):
                texts.append(str(params[key]))
        markup = params.get("reply_markup") or {}
        texts += [button["text"] for row in markup.get("inline_keyboard", []) for button in row]
    return texts


async def say(chat: Chat, *texts: str) -> None:
    """Messages that may get no answer (a form waiting for a button, say)."""
    for text in texts:
        await chat.shop.feed(chat.telegram.text_update(chat.user_id, text, first_name="Q"))


async def crawl(chat: Chat, start: Screen) -> None:
    """Press every button reachable from `start`, each callback once (not the language picks:
    the walk keeps its language)."""
    queue, pressed = deque([start]), set()
    while queue and len(pressed) < MAX_PRESSES:
        screen = queue.popleft()
        for _label, data in screen.buttons:
            if data in pressed or data.startswith("lang:"):
                continue
            pressed.add(data)
            result = await chat.press(data)
            screens = [c for c in result.calls if c.method in ("sendMessage", "editMessageText")]
            queue += [Screen(call) for call in screens if call.params.get("reply_markup")]


async def fill_forms(admin: Chat) -> None:
    """The admin's forms with a wrong answer at each step, then right ones."""
    panel = await admin.tap(await admin.send("/start"), "🛠")
    await admin.tap(await admin.tap(panel, "🗂"), "➕")
    await say(admin, "x" * 65, "★ 8")
    await admin.tap(panel, "➕")
    await say(admin, "x" * 129, "P-3")
    pick = await admin.send("#3")
    await say(admin, "?")
    await admin.tap(pick, CATEGORY)
    await say(admin, "?", "0", "10001", "5", "?", "/skip", "?", "/skip")
    await crawl(admin, await admin.send("K-3"))
    await admin.tap(panel, "📣")  # a broadcast: bad HTML, a bad button, then each audience
    await say(admin, "<x>", "<b>Q</b>", "?")
    await crawl(admin, await admin.send("/skip"))


async def pay(shop: ShopBot, customer: Chat, product_id: int) -> None:
    payload = build_payload(product_id, customer.user_id)
    await customer.pre_checkout(currency="XTR", total_amount=PRICE + 1, payload=payload)
    await customer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    await customer.pay(currency="XTR", total_amount=PRICE, payload=payload, charge_id="w-1")


async def review_and_codes(shop: ShopBot, customer: Chat, admin: Chat, product_id: int) -> None:
    """Words for a review (too long, then right; the admins' notice sent), promo codes made
    with mistakes, and one typed on the card (unknown, then right)."""
    await customer.press(RatePurchase(purchase_id=1, stars=4).pack())
    await say(customer, "9" * 1001, "👍 10/10")
    await shop.dispatcher["outbox"].send_due(shop.bot)
    await say(admin, "/promo_new", "/promo_new Q10 120%", "/promo_new Q10 10% until=31.12")
    await say(admin, "/promo_new Q10 10% uses=5", "/promo_new Q10 5%", "/promo_edit Q10 per_user=1")
    await customer.press(EnterPromo(product_id=product_id).pack())
    await say(customer, "Q99", "q10")


async def walk(shop: ShopBot, language: str) -> dict[int, list[str]]:
    """What the customer and the admin saw, walking every screen in `language`."""
    for user in (ADMIN, CUSTOMER):
        shop.telegram.set_client_language(user, language)
    product_id = await shop.run(seed)
    customer, admin = shop.chat(CUSTOMER, first_name="Q"), shop.chat(ADMIN, first_name="Q")
    await admin.send("/start")  # known to the shop, so the sale notice is in their language
    await crawl(customer, await customer.send("/start"))
    await say(customer, "?", "/cancel")
    await pay(shop, customer, product_id)
    await crawl(customer, await customer.send("/start"))  # "My purchases" has one now
    await review_and_codes(shop, customer, admin, product_id)
    await crawl(admin, await admin.send("/start"))
    await fill_forms(admin)
    await say(admin, "/purchase", "/purchase 999", "/purchase x")
    await crawl(admin, await admin.send("/purchase 1"))
    await say(admin, "/cancel")
    seen = {user: shown(shop.chat(user).calls_since(0)) for user in (CUSTOMER, ADMIN)}
    seen[CUSTOMER] += shown(shop.telegram.calls_of("answerPreCheckoutQuery"))  # no chat id
    return seen


def words(text: str) -> str:
    """The text without its HTML tags, shown or written out as &lt;b&gt; (their names and
    links are not words anyone reads)."""
    return TAG.sub(" ", html.unescape(TAG.sub(" ", text)))


def english_words(text: str) -> set[str]:
    readable = NOT_WORDS.sub(" ", words(text))
    return {word for word in LATIN_WORD.findall(readable) if word not in NOT_ENGLISH}


def russian_letters(text: str) -> set[str]:
    return set(CYRILLIC.findall(words(text).replace("Русский", "")))


@pytest.mark.parametrize(
    ("language", "foreign"),
    [
        ("ru", english_words),
        ("en", russian_letters),
    ],
)
async def test_every_screen_speaks_the_users_language(
    database: ThrowawayDatabase, language: str, foreign: Callable[[str], set[str]]
) -> None:
    async with running_shop(database, admin_ids=str(ADMIN)) as shop:
        seen = await walk(shop, language)

    for user, texts in seen.items():
        assert len(texts) > 40, f"the walk saw too little of user {user}'s screens"
        astray = sorted({text for text in texts if foreign(text)})
        assert astray == [], f"{len(astray)} texts to {user} not in {language}"
    assert any(russian_letters(text) for text in seen[CUSTOMER]) == (language == "ru")
