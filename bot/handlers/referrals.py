"""👥 Invite friends: the user's link, how many came through it, and the rewards it earned."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.handlers.ui import show
from bot.i18n import _, ngettext
from bot.keyboards.callbacks import Menu, MenuAction
from bot.keyboards.menu import back_home
from bot.shop import Shop
from bot.shop.referrals import link_code

router = Router(name="referrals")


@router.callback_query(Menu.filter(F.action == MenuAction.INVITE))
async def invite(callback: CallbackQuery, shop: Shop, settings: Settings, bot: Bot) -> None:
    me = await bot.me()
    user_id = callback.from_user.id
    link = f"https://t.me/{me.username}?start={link_code(user_id)}"
    invited = await shop.referrals.invited_by(user_id)
    lines = [_("👥 <b>Invite friends</b>"), "", _("Your link: {link}").format(link=escape(link))]
    percent = settings.referral_reward_percent
    if percent:
        lines.append(
            _(
                "When someone who came through it makes their first purchase, you get a "
                "personal promo code for {percent}% off one purchase."
            ).format(percent=percent)
        )
    lines += [
        "",
        ngettext(
            "{count} person came through it.", "{count} people came through it.", invited
        ).format(count=invited),
    ]
    for code, spent in await shop.promo_codes.rewards_of(user_id):
        state = _("used") if spent else (_("yours to use") if code.active else _("taken back"))
        lines.append(f"🎁 <code>{escape(code.code)}</code> — {code.percent}% — {state}")
    await show(callback, "\n".join(lines), back_home())
