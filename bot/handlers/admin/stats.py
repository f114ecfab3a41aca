"""Statistics: users and revenue today, this week, this month and all time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.types import CallbackQuery

from bot.dao.stats import Periods, Revenue
from bot.handlers.ui import show
from bot.keyboards.admin import back_to_panel
from bot.keyboards.callbacks import Admin, AdminAction
from bot.shop import Shop
from bot.shop.money import format_amount
from bot.shop.payments import PROVIDER_CARD, PROVIDER_STARS

router = Router(name="admin-stats")

_PROVIDERS = {PROVIDER_STARS: "Telegram Stars", PROVIDER_CARD: "payment provider"}


def _revenue_lines(title: str, revenue: list[Revenue]) -> list[str]:
    lines = [f"<b>{title}</b>: {sum(line.purchases for line in revenue)} purchases"]
    lines.extend(
        f"  • {format_amount(line.amount, line.currency)} — {line.purchases} via "
        f"{_PROVIDERS.get(line.provider, line.provider)}"
        for line in revenue
    )
    return lines


@router.callback_query(Admin.filter(F.action == AdminAction.STATS))
async def statistics(callback: CallbackQuery, shop: Shop) -> None:
    stats = shop.stats
    periods = Periods.ending(datetime.now(UTC))
    users = await stats.users(periods)
    lines = [
        "📊 <b>Statistics</b>",
        "<i>Today = since 00:00 UTC, week = the last 7 days, month = the last 30 days.</i>",
        "",
        f"👥 <b>Users</b>: {users.total} in total; new: {users.today} today, "
        f"{users.week} this week, {users.month} this month",
        "",
        "💰 <b>Purchases and revenue</b>",
    ]
    for title, since in (
        ("Today", periods.today),
        ("Week", periods.week),
        ("Month", periods.month),
        ("All time", None),
    ):
        lines.extend(_revenue_lines(title, await stats.revenue(since)))
    await show(callback, "\n".join(lines), back_to_panel())
