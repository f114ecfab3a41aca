"""The one object handlers get from the session middleware: the shop's data access for one
update, bound to that update's database session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.broadcasts import BroadcastDAO
from bot.dao.catalog import CategoryDAO, ProductDAO
from bot.dao.catalog_cache import CatalogCache
from bot.dao.orders import OrderDAO
from bot.dao.outbox import OutboxDAO
from bot.dao.promo_codes import PromoCodeDAO
from bot.dao.purchases import PurchaseDAO
from bot.dao.referrals import ReferralDAO
from bot.dao.restock import RestockDAO
from bot.dao.reviews import ReviewDAO
from bot.dao.search import ProductSearch
from bot.dao.stats import StatsDAO
from bot.dao.stock import StockDAO
from bot.dao.users import UserDAO


@dataclass(frozen=True)
class Shop:
    """Handlers read and write only through this. A benchmark or a test may hand handlers
    another one (e.g. `dataclasses.replace(shop, products=canned)`) instead of a database."""

    users: UserDAO
    categories: CategoryDAO
    products: ProductDAO
    purchases: PurchaseDAO
    stats: StatsDAO
    reviews: ReviewDAO
    promo_codes: PromoCodeDAO

    @property
    def stock(self) -> StockDAO:
        """Units of stock products, on the products' session (a canned `Shop` without stock
        products never reaches it)."""
        return StockDAO(self.products.session)

    @property
    def outbox(self) -> OutboxDAO:
        """What the bot must send, on the products' session (as `stock`)."""
        return OutboxDAO(self.products.session)

    @property
    def orders(self) -> OrderDAO:
        """Gateway orders, on the products' session (as `stock`)."""
        return OrderDAO(self.products.session)

    @property
    def restock(self) -> RestockDAO:
        """Customers waiting for sold-out stock products, on the products' session (as
        `stock`)."""
        return RestockDAO(self.products.session)

    @property
    def search(self) -> ProductSearch:
        """Products on sale found by words, on the products' session (as `stock`)."""
        return ProductSearch(self.products.session)

    @property
    def broadcasts(self) -> BroadcastDAO:
        """Broadcasts and their recipients, on the products' session (as `stock`)."""
        return BroadcastDAO(self.products.session)

    @property
    def referrals(self) -> ReferralDAO:
        """Who invited whom, on the products' session (as `stock`)."""
        return ReferralDAO(self.products.session)

    @classmethod
    def on(cls, session: AsyncSession, catalog: CatalogCache | None = None) -> Shop:
        """`catalog`: where the customer's catalog screens keep what they read."""
        return cls(
            users=UserDAO(session),
            categories=CategoryDAO(session, catalog),
            products=ProductDAO(session, catalog),
            purchases=PurchaseDAO(session),
            stats=StatsDAO(session),
            reviews=ReviewDAO(session, catalog),
            promo_codes=PromoCodeDAO(session, catalog),
        )
