"""One Router per feature; `routers()` lists them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import start


def routers() -> list[Router]:
    return [start.router]
