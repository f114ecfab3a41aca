"""Data access: models, engine and session factories, and the DAO classes that query them."""

from bot.dao import broadcast_models  # noqa: F401  (its tables on Base.metadata too)
from bot.dao.database import Base, create_engine, create_session_factory
from bot.dao.models import Category, Product, Purchase, User

__all__ = [
    "Base",
    "Category",
    "Product",
    "Purchase",
    "User",
    "create_engine",
    "create_session_factory",
]
