"""One Router per feature; `routers()` lists them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    admin,
    catalog,
    fallback,
    gateways,
    groups,
    inline,
    language,
    payments,
    profile,
    promo_codes,
    referrals,
    refunds,
    restock,
    reviews,
    search,
    start,
)


def routers() -> list[Router]:
    # groups first: nothing in a group reaches the shop. Then start: /start and /cancel work
    # in every FSM state. Fallback last.
    return [
        groups.router,
        start.router,
        inline.router,
        catalog.router,
        search.router,
        restock.router,
        reviews.router,
        language.router,
        payments.router,
        promo_codes.router,
        gateways.router,
        refunds.router,
        profile.router,
        referrals.router,
        admin.router,
        fallback.router,
    ]
