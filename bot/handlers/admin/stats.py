"""Statistics: users and revenue today, this week, this month and all time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.types import CallbackQuery

from bot.dao.promo_codes import Usage
from bot.dao.stats import Periods, Revenue, UserCounts
from bot.handlers.ui import show
from bot.i18n import _, ngettext
from bot.keyboards.admin import back_to_panel
from bot.keyboards.callbacks import Admin, AdminAction
from bot.shop import Shop
from bot.shop.gateways import PROVIDER_CRYPTOPAY, PROVIDER_ROBOKASSA
from bot.shop.money import format_amount, format_amounts
from bot.shop.purchases import PROVIDER_CARD, PROVIDER_STARS

router = Router(name="admin-stats")


def _provider_name(provider: str) -> str:
    names = {
        PROVIDER_STARS: "Telegram Stars",
        PROVIDER_CARD: _("payment provider"),
        PROVIDER_ROBOKASSA: "Robokassa",
        PROVIDER_CRYPTOPAY: "Crypto Pay",
    }
    return names.get(provider, provider)


def _users_lines(users: UserCounts) -> list[str]:
    return [
        ngettext(
            "👥 <b>{count} user</b> in total", "👥 <b>{count} users</b> in total", users.total
        ).format(count=users.total),
        ngettext("  • {count} new today", "  • {count} new today", users.today).format(
            count=users.today
        ),
        ngettext("  • {count} new this week", "  • {count} new this week", users.week).format(
            count=users.week
        ),
        ngettext("  • {count} new this month", "  • {count} new this month", users.month).format(
            count=users.month
        ),
        ngettext(
            "  • {count} has blocked the bot", "  • {count} have blocked the bot", users.blocked
        ).format(count=users.blocked),
    ]


def _revenue_lines(period: str, revenue: list[Revenue]) -> list[str]:
    purchases = sum(line.purchases for line in revenue)
    lines = [
        ngettext(
            "<b>{period}</b>: {count} purchase", "<b>{period}</b>: {count} purchases", purchases
        ).format(period=period, count=purchases)
    ]
    lines.extend(
        ngettext(
            "  • {amount} — {count} purchase via {provider}",
            "  • {amount} — {count} purchases via {provider}",
            line.purchases,
        ).format(
            amount=format_amount(line.amount, line.currency),
            count=line.purchases,
            provider=_provider_name(line.provider),
        )
        for line in revenue
    )
    return lines


@router.callback_query(Admin.filter(F.action == AdminAction.STATS))
async def statistics(callback: CallbackQuery, shop: Shop) -> None:
    stats = shop.stats
    periods = Periods.ending(datetime.now(UTC))
    users = await stats.users(periods)
    lines = [
        _("📊 <b>Statistics</b>"),
        _("<i>Today = since 00:00 UTC, week = the last 7 days, month = the last 30 days.</i>"),
        "",
        *_users_lines(users),
        "",
        _("💰 <b>Purchases and revenue</b>"),
    ]
    for period, since in (
        (_("Today"), periods.today),
        (_("Week"), periods.week),
        (_("Month"), periods.month),
        (_("All time"), None),
    ):
        lines.extend(_revenue_lines(period, await stats.revenue(since)))
    lines += ["", _promo_line((await shop.promo_codes.usage()).get(None))]
    await show(callback, "\n".join(lines), back_to_panel())


def _promo_line(usage: Usage | None) -> str:
    """Uses of every code together, and the discount they gave per currency."""
    if usage is None:
        return _("🏷 Promo codes: not used yet")
    return ngettext(
        "🏷 Promo codes: {count} use, {given} off",
        "🏷 Promo codes: {count} uses, {given} off",
        usage.uses,
    ).format(count=usage.uses, given=format_amounts(usage.discounts))
