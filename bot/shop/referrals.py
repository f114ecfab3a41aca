"""Referrals: every user's link, tying a new user to whoever invited them, and the inviter's
reward for that user's first purchase.

The rules against abuse (the README's "Referrals" lists them; each has a test):
- a user is tied only at their first contact, through a link, and never to themselves
  (`referrals.invited_id` is unique and the inviter must already be a user, so the ties form
  a tree: no cycle can be made);
- only the invited buyer's first purchase ever rewards, once (`earned_by_purchase_id` is
  unique); a later one does not, even after that first one was refunded;
- the reward is a personal code: only its owner can use it, once;
- a refund of the rewarding purchase switches an unspent reward off.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from loguru import logger

from bot.dao.models import PromoCode, User
from bot.shop.services import Shop

_LINK_CODE = re.compile(r"r([1-9][0-9]{0,18})")
_MAX_TELEGRAM_ID = 2**63 - 1


def link_code(telegram_id: int) -> str:
    """What follows `?start=` in this user's link."""
    return f"r{telegram_id}"


def inviter_in(start_argument: str | None) -> int | None:
    """The inviter's Telegram id a /start argument names, or None for anything else."""
    match = _LINK_CODE.fullmatch(start_argument or "")
    if match is None or int(match[1]) > _MAX_TELEGRAM_ID:
        return None
    return int(match[1])


async def tie(shop: Shop, user: User, inviter_telegram_id: int) -> bool:
    """At a new user's first contact through a link: record who invited them."""
    tied = await shop.referrals.tie(user.id, inviter_telegram_id)
    if tied:
        logger.info("user {} was invited by user {}", user.telegram_id, inviter_telegram_id)
    return tied


@dataclass(frozen=True)
class Reward:
    """A personal code an inviter earned by an invited buyer's first purchase."""

    inviter: User
    code: str
    percent: int


async def reward_first_purchase(
    shop: Shop, buyer_telegram_id: int, purchase_id: int, percent: int
) -> Reward | None:
    """In the purchase's transaction: the inviter's reward if this is an invited buyer's
    first purchase ever; None otherwise (or with `percent` 0)."""
    if not percent:
        return None
    inviter = await shop.referrals.inviter_of(buyer_telegram_id)
    if inviter is None or await shop.purchases.count_of(buyer_telegram_id) != 1:
        return None
    code: PromoCode | None = await shop.promo_codes.create(
        code=f"REF-{secrets.token_hex(5).upper()}",
        percent=percent,
        max_uses=1,
        per_user=1,
        owner_telegram_id=inviter.telegram_id,
        earned_by_purchase_id=purchase_id,
    )
    if code is None:  # rewarded already (a replay), or a code drawn twice: none this time
        return None
    logger.info(
        "purchase {}: user {} earned {} ({}% off) for inviting user {}",
        purchase_id,
        inviter.telegram_id,
        code.code,
        percent,
        buyer_telegram_id,
    )
    return Reward(inviter, code.code, percent)


async def take_back_reward(shop: Shop, purchase_id: int) -> None:
    """With the refund of a purchase: switch off the reward it earned, unless spent."""
    code = await shop.promo_codes.take_back(purchase_id)
    if code is not None:
        logger.info(
            "refund of purchase {}: its referral reward {} is switched off", purchase_id, code
        )
