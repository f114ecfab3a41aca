"""The admin panel. The IsAdmin filter sits on this router, so no handler below it is ever
reached by anyone outside ADMIN_IDS, whatever callback data they forge."""

from __future__ import annotations

from aiogram import Router

from bot.filters.admin import IsAdmin
from bot.handlers.admin import (
    broadcast_form,
    broadcasts,
    categories,
    menu,
    orders,
    photo_form,
    product_form,
    products,
    promo_codes,
    purchases,
    reviews,
    stats,
    units,
)

router = Router(name="admin")
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())
router.include_routers(
    menu.router,
    stats.router,
    categories.router,
    products.router,
    product_form.router,
    units.router,
    purchases.router,
    orders.router,
    reviews.router,
    promo_codes.router,
    broadcast_form.router,
    broadcasts.router,
    photo_form.router,
)
