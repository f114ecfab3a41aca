"""With PAYMENTS_PROVIDER_TOKEN set, end to end: the admin prices a product in the configured
currency (199.99 → 19999 minor units), the invoice carries that currency and the token, the
purchase is recorded as a provider payment, and a delivery that Telegram refuses is neither
lost nor a reason to skip the admins: the buyer gets the product again from the profile."""

from __future__ import annotations

from pathlib import Path

from bot.dao.models import Product, Purchase
from bot.handlers.invoice import build_payload
from bot.keyboards.callbacks import Admin, AdminAction, Menu, MenuAction
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import running_bot, texts

ADMIN, BUYER = 9001, 5001
TOKEN = "381764678:TEST:provider-secret-123"


def test_card_payment_in_the_configured_currency(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    settings = {
        "ADMIN_IDS": str(ADMIN),
        "PAYMENTS_PROVIDER_TOKEN": TOKEN,
        "PAYMENTS_CURRENCY": "rub",
    }
    with running_bot(database, fake_api, tmp_path, **settings) as shop:
        admin = shop.chat(ADMIN)
        admin.send("/start")
        admin.press(Admin(action=AdminAction.ADD_CATEGORY).pack())
        admin.send("Courses")
        admin.press(Admin(action=AdminAction.ADD_PRODUCT).pack())
        admin.send("SQL course")
        pick = admin.send("Ten lessons")
        assert "amount in RUB" in admin.tap(pick, "Courses").text
        assert "at most 2 decimal places" in admin.send("199.999").text
        admin.send("199.99")
        admin.send("/skip")
        summary = admin.send("https://example.com/sql?key=abc")
        assert "Price: 199.99 RUB" in summary.text and "File: none" in summary.text
        admin.tap(summary, "Save")
        [product] = shop.rows(Product)
        assert (product.price, product.currency, product.file_id) == (19999, "RUB", None)

        buyer = shop.chat(BUYER)
        catalog = buyer.tap(buyer.send("/start"), "Catalog")
        card = buyer.tap(buyer.tap(catalog, "Courses"), "SQL course")
        assert "Price: <b>199.99 RUB</b>" in card.text
        [invoice] = buyer.press(card.button("Buy")).of("sendInvoice")
        payload = build_payload(product.id, BUYER)
        assert (invoice.params["currency"], invoice.params["provider_token"]) == ("RUB", TOKEN)
        assert invoice.params["prices"] == [{"label": "SQL course", "amount": 19999}]
        assert invoice.params["payload"] == payload
        stars = buyer.pre_checkout(currency="XTR", total_amount=19999, payload=payload)
        assert stars.params["ok"] is False
        ok = buyer.pre_checkout(currency="RUB", total_amount=19999, payload=payload)
        assert ok.params["ok"] is True

        # The buyer's chat refuses the first message: the purchase stays, the admin hears.
        fake_api.set_failure("sendMessage", error_code=403, description="Forbidden: blocked")
        mark = fake_api.mark()
        shop.pay(BUYER, currency="RUB", total_amount=19999, payload=payload, charge_id="card-1")
        shop.settle()
        [purchase] = shop.rows(Purchase)
        assert (purchase.provider, purchase.amount, purchase.currency) == ("provider", 19999, "RUB")
        assert (purchase.charge_id, purchase.provider_charge_id) == ("card-1", "provider-card-1")
        assert len(buyer.calls_since(mark)) == 1  # the refused message, nothing after it
        [notice] = texts(admin.calls_since(mark))
        assert "199.99 RUB" in notice and "SQL course" in notice

        profile = buyer.press(Menu(action=MenuAction.PURCHASES).pack()).screen
        assert "Total spent: 199.99 RUB" in profile.text
        again = buyer.press(profile.button("SQL course"))
        assert texts(again.calls) == [
            "📦 Here is <b>SQL course</b>:",
            "https://example.com/sql?key=abc",
        ]
        assert not again.of("sendDocument")
    assert TOKEN not in shop.process.output
