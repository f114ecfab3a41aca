"""The shop's tables. Money is an integer in the currency's minor units (Stars are whole)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.dao.database import Base, UTCDateTime

# The longest names the columns hold; what an admin types is checked against these.
CATEGORY_NAME_MAX = 64
PRODUCT_NAME_MAX = 128
UNIT_TEXT_MAX = 4000
REVIEW_TEXT_MAX = 1000
PROMO_CODE_MAX = 32
RATING_MIN, RATING_MAX = 1, 5

# products.kind: one content for every buyer, or a pool of units each sold once.
KIND_UNLIMITED = "unlimited"
KIND_STOCK = "stock"
# stock_units.state. A sold unit stays sold, refunded or not: its buyer has seen it.
UNIT_AVAILABLE = "available"
UNIT_RESERVED = "reserved"
UNIT_SOLD = "sold"
# outbox.kind: what a row sends. Goods and restock notices are rendered when sent (the unit's
# text never sits in the outbox; a refunded purchase is not sent); text is written up front.
OUTBOX_GOODS = "goods"
OUTBOX_RESTOCK = "restock"
OUTBOX_TEXT = "text"
# A new review, told to an admin: rendered when sent, so it shows the review as it is then.
OUTBOX_REVIEW = "review"
# outbox.state. Failed: refused for good (the user blocked the bot) or nothing left to send.
OUTBOX_PENDING = "pending"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"
# orders.state: a purchase through a payment gateway outside Telegram, before and after it
# is paid. Expired: not paid in time (its reserved unit went back to stock); a payment that
# arrives later all the same is still taken (the money moved) and makes it paid. Refunded is
# not stored: it is what admins see for a paid order whose purchase was refunded.
ORDER_CREATED = "created"
ORDER_PAID = "paid"
ORDER_EXPIRED = "expired"
ORDER_REFUNDED = "refunded"


class User(Base):
    __tablename__ = "users"

    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))
    # What the bot speaks to them: from their client's language at first contact, or chosen
    # with 🌐; None until then (users from before languages: set at their next /start).
    language: Mapped[str | None] = mapped_column(String(8))
    # When a message to them was refused because they blocked the bot (a 403); cleared when
    # they start it again.
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When they last wrote to the bot or pressed one of its buttons, to the hour or so
    # (bot.workers.visits writes it in batches); None until their first visit after it came.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchases: Mapped[list[Purchase]] = relationship(back_populates="user")


class Category(Base):
    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX), unique=True)
    photo: Mapped[str | None] = mapped_column(String(256))  # a Telegram file id

    products: Mapped[list[Product]] = relationship(back_populates="category")


# Names are unique ignoring case in the schema too, so two admins adding "Foo" and "foo" at
# once never both succeed (SQLite's lower() folds ASCII only; the DAO compares casefolded).
Index("uq_categories_lower_name", func.lower(Category.name), unique=True)


def searchable(text: str) -> str:
    """Text as search compares it: case folded in every language, and ё read as е (Russian
    readers type either)."""
    return text.casefold().replace("ё", "е")


def search_text_of(name: str | None, description: str | None) -> str:
    """A product's `search_text`: its name and description, folded."""
    return searchable(f"{name or ''}\n{description or ''}")


def _search_text_default(context: DefaultExecutionContext) -> str:
    row = context.get_current_parameters()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    return search_text_of(row.get("name"), row.get("description"))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(PRODUCT_NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    file_id: Mapped[str | None] = mapped_column(String(256))
    photo: Mapped[str | None] = mapped_column(String(256))  # a Telegram file id: its card's
    hidden_content: Mapped[str] = mapped_column(Text, default="")
    on_sale: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    # Deleted products stay as rows, so a payment arriving late still finds what it paid for.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The add-product form's token: a form saved twice (a double tap) makes one product.
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(
        String(16), server_default=KIND_UNLIMITED, default=KIND_UNLIMITED
    )
    # What /search and inline mode look in: the name and description, folded by `searchable`
    # (written with the row: SQLite's lower() and LIKE fold only ASCII, PostgreSQL's depend
    # on the database's locale). A product whose name or description changes must set it.
    search_text: Mapped[str | None] = mapped_column(Text, default=_search_text_default)

    category: Mapped[Category] = relationship(back_populates="products")
    purchases: Mapped[list[Purchase]] = relationship(back_populates="product")


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(32))
    # Telegram's charge id, or `<provider>:<gateway's id>` for a gateway's payment: unique,
    # so a payment is recorded once per provider and id.
    charge_id: Mapped[str] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255))
    # Set once the payment went back to the buyer: no revenue, no re-delivery.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="purchases")
    product: Mapped[Product] = relationship(back_populates="purchases")


class StockUnit(Base):
    """One unit of a stock product (a key, a code, login details), sold to exactly one buyer.

    Uniqueness per product goes through `content_hash` (SHA-256 of the text): an index on
    texts of up to 4000 characters would pass PostgreSQL's btree row limit. A unit is
    reserved for a payer until `reserved_until`, then sold with `purchase_id` set (unique:
    one unit per purchase)."""

    __tablename__ = "stock_units"
    __table_args__ = (UniqueConstraint("product_id", "content_hash"),)

    # Indexed by the unique constraint, which starts with it.
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(
        String(16), server_default=UNIT_AVAILABLE, default=UNIT_AVAILABLE
    )
    reserved_for: Mapped[int | None] = mapped_column(BigInteger)  # the payer's Telegram id
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), unique=True)


# What the sale looks for: a product's units in one state.
Index("ix_stock_units_product_id_state", StockUnit.product_id, StockUnit.state)


class OutboxMessage(Base):
    """Something the bot must send, written in the transaction that decided it (a purchase's
    goods and sale notices, a restock notice) and sent after the commit, with retries.

    A sender claims a row (`claimed_by` until `claimed_until`) before sending, so two
    instances never send one row at once. A row that fails part-way records how many of its
    messages went out (`parts_sent`), so its retry goes on from there."""

    __tablename__ = "outbox"
    # One goods delivery per purchase and one sale notice per purchase and admin.
    __table_args__ = (UniqueConstraint("kind", "chat_id", "purchase_id"),)

    kind: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    text: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(
        String(16), server_default=OUTBOX_PENDING, default=OUTBOX_PENDING
    )
    parts_sent: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(255))


# What a sender looks for: pending rows that are due.
Index("ix_outbox_state_due_at", OutboxMessage.state, OutboxMessage.due_at)


class RestockSubscription(Base):
    """A customer waiting for a sold-out stock product: told once, when units are added."""

    __tablename__ = "restock_subscriptions"
    __table_args__ = (UniqueConstraint("product_id", "telegram_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    telegram_id: Mapped[int] = mapped_column(BigInteger)


class Order(Base):
    """A purchase started through a payment gateway (Robokassa, Crypto Pay). Its id is the
    invoice number the gateway gets: handed out by the database (AUTOINCREMENT on SQLite, so
    never reused), so concurrent buyers never share one. `external_id` is the gateway's id
    for it, unique per provider; `purchase_id` is set once it is paid and recorded."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("provider", "external_id"),
        {"sqlite_autoincrement": True},
    )

    provider: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(
        String(16), server_default=ORDER_CREATED, default=ORDER_CREATED
    )
    external_id: Mapped[str | None] = mapped_column(String(64))
    pay_url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), unique=True)
    # The promo code `amount` was made with: its use is held until the order expires.
    promo_code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id"))

    user: Mapped[User] = relationship()
    product: Mapped[Product] = relationship()
    purchase: Mapped[Purchase | None] = relationship()


# What the expiry looks for: orders still unpaid past their time.
Index("ix_orders_state_expires_at", Order.state, Order.expires_at)


class Review(Base):
    """A buyer's stars and words on one purchase: one review per purchase, which its buyer
    may change. Hidden by an admin: kept, but neither shown nor counted."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"rating BETWEEN {RATING_MIN} AND {RATING_MAX}", name="rating_range"),
    )

    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str | None] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchase: Mapped[Purchase] = relationship()


# What a card and its reviews page read: a product's reviews, newest first.
Index("ix_reviews_product_id_id", Review.product_id, Review.id)


class PromoCode(Base):
    """A code that takes a percentage or a fixed amount (in one currency) off a price: for
    every product, a category or one product; for `max_uses` payments in all and `per_user`
    per buyer (None: no limit), between `starts_at` and `ends_at` (None: open), while
    `active`. `code` is kept as buyers type it once normalised: upper case, ASCII."""

    __tablename__ = "promo_codes"
    __table_args__ = (
        CheckConstraint(
            "(percent IS NOT NULL AND amount IS NULL AND currency IS NULL) OR "
            "(percent IS NULL AND amount IS NOT NULL AND currency IS NOT NULL)",
            name="percent_or_amount",
        ),
        CheckConstraint("percent BETWEEN 1 AND 99", name="percent_range"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("product_id IS NULL OR category_id IS NULL", name="one_scope"),
    )

    code: Mapped[str] = mapped_column(String(PROMO_CODE_MAX), unique=True)
    percent: Mapped[int | None] = mapped_column(SmallInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    per_user: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    # A personal code (a referral reward): only this buyer may use it.
    owner_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    # The invited buyer's first purchase that earned it (unique: one reward per purchase).
    earned_by_purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchases.id"), unique=True
    )


class PromoUse(Base):
    """One use of a promo code by a buyer: held at pre-checkout until `held_until` (as a stock
    unit is reserved), then spent by the payment, which sets `purchase_id` (unique: a payment
    spends one use) and the `discount` it gave, in the purchase's currency."""

    __tablename__ = "promo_uses"

    promo_code_id: Mapped[int] = mapped_column(ForeignKey("promo_codes.id"))
    telegram_id: Mapped[int] = mapped_column(BigInteger)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), unique=True)
    discount: Mapped[int | None] = mapped_column(BigInteger)


# What a hold counts: a code's uses, and one buyer's.
Index("ix_promo_uses_promo_code_id_telegram_id", PromoUse.promo_code_id, PromoUse.telegram_id)


class Referral(Base):
    """Who invited whom: written once, at the invited user's first contact through the
    inviter's link (a table of its own: `users` is the biggest table, and this one is made
    empty, with its indexes, at no cost to it)."""

    __tablename__ = "referrals"
    __table_args__ = (CheckConstraint("invited_id <> inviter_id", name="not_oneself"),)

    invited_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    inviter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
