"""One Router per feature; `routers()` lists them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, catalog, fallback, payments, profile, start


def routers() -> list[Router]:
    # start first: /start and /cancel work in every FSM state; fallback last.
    return [
        start.router,
        catalog.router,
        payments.router,
        profile.router,
        admin.router,
        fallback.router,
    ]
