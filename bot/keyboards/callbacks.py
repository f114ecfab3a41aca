"""Callback data factories: every button's data is built and parsed here, never by hand.

Ids and page numbers are bounded, so forged data (`prod:abc`, `prod:-1`, an id past the
database's integer range) fails to unpack: no handler matches and the fallback router answers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
PageNumber = Annotated[int, Field(ge=0, le=100_000)]
Stars = Annotated[int, Field(ge=0, le=5)]  # 0: not chosen yet


class MenuAction(StrEnum):
    CATALOG = "catalog"
    PURCHASES = "purchases"
    ABOUT = "about"
    ADMIN = "admin"
    HOME = "home"
    LANGUAGE = "language"  # 🌐: the language picker
    INVITE = "invite"  # 👥: the user's invitation link and rewards
    SEARCH = "search"  # 🔎: asks for words to look for


class Menu(CallbackData, prefix="menu"):
    action: MenuAction


class PickLanguage(CallbackData, prefix="lang"):
    """A language on the 🌐 picker; its code is checked against the languages the bot has."""

    code: Annotated[str, Field(min_length=2, max_length=8)]


class CategoryPage(CallbackData, prefix="cat"):
    category_id: RowId
    page: PageNumber = 0


class SearchPage(CallbackData, prefix="srch"):
    """A page of the last search's results (its words are in the user's FSM data)."""

    page: PageNumber


class ProductCard(CallbackData, prefix="prod"):
    product_id: RowId
    page: PageNumber = 0  # the category page to go back to


class Buy(CallbackData, prefix="buy"):
    product_id: RowId


# With a promo code, Buy and PayWith are factories of their own: a field added to theirs would
# turn every Buy button already in users' chats stale (aiogram unpacks a fixed number of parts).
class BuyWithCode(CallbackData, prefix="buyc"):
    product_id: RowId
    promo: RowId  # the promo code the card's price was made with


class EnterPromo(CallbackData, prefix="promo"):
    """🏷 on a product card: ask for a promo code; `back`: leave that, back to the card."""

    product_id: RowId
    page: PageNumber = 0  # the category page the card goes back to
    back: bool = False


class PayMethod(StrEnum):
    TELEGRAM = "telegram"  # Telegram Payments: Stars or the provider token
    ROBOKASSA = "robokassa"
    CRYPTOPAY = "cryptopay"


class PayWith(CallbackData, prefix="pay"):
    """A way to pay for a product, offered after Buy when a gateway is set up."""

    product_id: RowId
    method: PayMethod


class PayWithCode(CallbackData, prefix="payc"):
    product_id: RowId
    method: PayMethod
    promo: RowId


class Restock(CallbackData, prefix="rst"):
    """🔔/🔕 on a sold-out stock product's card: start or stop waiting for its restock."""

    product_id: RowId
    page: PageNumber = 0  # the category page the card goes back to


class PurchasesPage(CallbackData, prefix="mine"):
    page: PageNumber


class Redeliver(CallbackData, prefix="again"):
    product_id: RowId
    purchase_id: RowId | None = None  # a stock product's unit is that purchase's


class RatePurchase(CallbackData, prefix="rate"):
    """⭐ on a delivered purchase: `stars` 0 shows the stars to pick, 1-5 picks them.
    `reply`: pressed on the goods themselves, which stay; the stars come in a new message."""

    purchase_id: RowId
    stars: Stars = 0
    reply: bool = False


class SkipReviewText(CallbackData, prefix="rvskip"):
    """Save the stars without (new) words."""

    purchase_id: RowId


class ProductReviews(CallbackData, prefix="revs"):
    product_id: RowId
    page: PageNumber = 0
    card_page: PageNumber = 0  # the category page the card goes back to


class AdminAction(StrEnum):
    PANEL = "panel"
    STATS = "stats"
    ADD_PRODUCT = "add_product"
    CATEGORIES = "categories"
    ADD_CATEGORY = "add_category"
    BROADCAST = "broadcast"  # 📣: compose a new broadcast


class Admin(CallbackData, prefix="adm"):
    action: AdminAction


class AdminPromos(CallbackData, prefix="admpcs"):
    """🏷 Promo codes in the admin panel: a page of them."""

    page: PageNumber


class AdminPromo(CallbackData, prefix="admpc"):
    """Switch a promo code on or off (from a page of the list)."""

    code_id: RowId
    active: bool
    page: PageNumber = 0


class AdminProducts(CallbackData, prefix="admps"):
    page: PageNumber


class ProductAction(StrEnum):
    VIEW = "view"
    TOGGLE = "toggle"
    DELETE = "delete"
    ADD_UNITS = "units"
    REMOVE_UNSOLD = "unsold"
    PHOTO = "photo"  # asks for a new photo (or /remove)


class AdminProduct(CallbackData, prefix="admp"):
    action: ProductAction
    product_id: RowId


class PurchaseAction(StrEnum):
    VIEW = "view"
    REFUND = "refund"  # asks to confirm
    CONFIRM_REFUND = "confirm"


class AdminPurchase(CallbackData, prefix="admbuy"):
    action: PurchaseAction
    purchase_id: RowId


class CategoryAction(StrEnum):
    VIEW = "view"
    RENAME = "rename"
    DELETE = "delete"
    PHOTO = "photo"  # asks for a new photo (or /remove)


class AdminCategory(CallbackData, prefix="admc"):
    action: CategoryAction
    category_id: RowId


class AdminReview(CallbackData, prefix="admrev"):
    """🙈/👁 on a review's notice: hide it from the shop, or show it again."""

    review_id: RowId
    hide: bool


class PickCategory(CallbackData, prefix="pick"):
    """The category step of the add-product form."""

    category_id: RowId


class PickKind(CallbackData, prefix="kind"):
    """The kind step of the add-product form."""

    stock: bool


class FormAction(StrEnum):
    SAVE = "save"
    CANCEL = "cancel"


class ProductForm(CallbackData, prefix="form"):
    """The confirm step of the add-product form."""

    action: FormAction


class BroadcastAction(StrEnum):
    SEND = "send"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


class AdminBroadcast(CallbackData, prefix="admbc"):
    """A broadcast's buttons: send the previewed draft, pause, resume, cancel."""

    action: BroadcastAction
    broadcast_id: RowId


class BroadcastTo(CallbackData, prefix="bcto"):
    """The audience a new broadcast goes to (bot.dao.broadcasts' kinds) and which one."""

    kind: str
    value: str = ""
