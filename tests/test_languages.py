"""Each user's language, in-process through the real dispatcher on real databases: taken from
the Telegram client at first contact (Russian readers get Russian, everyone else
DEFAULT_LANGUAGE), stored with the user, switched with 🌐 (the next screen speaks it), and
remembered across a restart."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import insert

from bot.dao.models import User
from bot.dao.users import UserDAO
from bot.keyboards.callbacks import PickLanguage
from tests.support.databases import ThrowawayDatabase, statements_sent
from tests.support.shop import STALE, Screen, ShopBot, running_shop

USER = 6001
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# Words a Russian screen may show in Latin letters: names and codes, not English.
LATIN_ALLOWED = frozenset({"Telegram", "Stars", "XTR", "RUB", "UTC", "id", "ID", "English"})


def is_russian(text: str) -> bool:
    latin = {word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in LATIN_ALLOWED}
    return bool(CYRILLIC.search(text)) and not latin


def is_english(text: str) -> bool:
    return not CYRILLIC.search(text.replace("Русский", ""))


def speaks(screen: Screen, check: Callable[[str], bool]) -> bool:
    return all(check(text) for text in [screen.text, *screen.labels])


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database) as running:
        yield running


async def stored_language(shop: ShopBot, telegram_id: int = USER) -> str | None:
    [user] = await shop.rows(User, User.telegram_id == telegram_id)
    return user.language


@pytest.mark.parametrize(
    ("client", "default", "expected"),
    [
        ("ru", "en", "ru"),
        ("uk", "en", "ru"),
        ("be", "en", "ru"),
        ("kk-KZ", "en", "ru"),
        ("en", "en", "en"),
        ("de", "en", "en"),
        (None, "en", "en"),
        (None, "ru", "ru"),
        ("en", "ru", "ru"),
    ],
)
async def test_the_first_contact_takes_the_clients_language(
    database: ThrowawayDatabase, client: str | None, default: str, expected: str
) -> None:
    async with running_shop(database, default_language=default) as shop:
        shop.telegram.set_client_language(USER, client)

        screen = await shop.chat(USER, "Q").send("/start")

        assert speaks(screen, is_russian if expected == "ru" else is_english), screen.text
        assert await stored_language(shop) == expected


async def test_switching_language_speaks_it_at_once_and_after_a_restart(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database) as shop:
        chat = shop.chat(USER, "Q")
        shop.telegram.set_client_language(USER, "en")
        menu = await chat.send("/start")
        picker = await chat.tap(menu, "Language")
        assert "✅ English" in picker.labels and "Русский" in picker.labels

        switched = await chat.tap(picker, "Русский")

        assert speaks(switched, is_russian), switched.text
        assert speaks(await chat.send("/start"), is_russian)
        assert await stored_language(shop) == "ru"

    async with running_shop(database) as restarted:  # nothing cached: read from the database
        restarted.telegram.set_client_language(USER, "en")
        assert speaks(await restarted.chat(USER, "Q").send("/start"), is_russian)


async def test_a_choice_outlives_a_change_of_the_clients_language(shop: ShopBot) -> None:
    chat = shop.chat(USER, "Q")
    shop.telegram.set_client_language(USER, "ru")
    picker = await chat.tap(await chat.send("/start"), "🌐")
    await chat.tap(picker, "English")
    shop.telegram.set_client_language(USER, "uk")

    assert speaks(await chat.send("/start"), is_english)
    assert await stored_language(shop) == "en"


async def test_a_forged_language_is_stale_and_changes_nothing(shop: ShopBot) -> None:
    chat = shop.chat(USER, "Q")
    await chat.send("/start")

    pressed = await chat.press(PickLanguage(code="de").pack())

    assert pressed.notice == STALE
    assert pressed.calls == []
    assert await stored_language(shop) == "en"


async def known_elsewhere(shop: ShopBot, language: str) -> None:
    """USER as another instance stored them: this one has no language of theirs cached."""
    await shop.run(
        lambda session: session.execute(
            insert(User).values(telegram_id=USER, first_name="Q", language=language)
        )
    )


async def test_updates_of_one_user_at_once_read_their_language_once(shop: ShopBot) -> None:
    """A backlog or a double tap: the updates that arrive while the user's language is read
    wait for that read."""
    await known_elsewhere(shop, "ru")
    shop.telegram.set_client_language(USER, "en")
    with statements_sent(shop.engine) as sent:
        await shop.feed(*[shop.telegram.text_update(USER, "hello", first_name="Q")] * 2)
    assert len([statement for statement in sent if "FROM users" in statement]) == 1
    assert speaks(await shop.chat(USER, "Q").send("/start"), is_russian)


async def test_a_failed_language_read_answers_every_waiting_update_in_its_clients_language(
    shop: ShopBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_elsewhere(shop, "ru")
    shop.telegram.set_client_language(USER, "en")
    reads: list[int] = []

    async def unreachable(_users: UserDAO, telegram_id: int) -> str | None:
        reads.append(telegram_id)
        await asyncio.sleep(0.05)  # the other update arrives meanwhile
        raise ConnectionRefusedError("the database is down")

    monkeypatch.setattr(UserDAO, "language_of", unreachable)
    mark = shop.telegram.mark()
    await shop.feed(*[shop.telegram.text_update(USER, "/start", first_name="Q")] * 2)
    assert reads == [USER]
    replies = [call for call in shop.telegram.calls[mark:] if call.method == "sendMessage"]
    assert len(replies) == 2 and all(is_english(str(call.params["text"])) for call in replies)
    warnings = [line for line in shop.log if "could not read the language" in line]
    assert [("ConnectionRefusedError" in line, "LanguageUnread" in line) for line in warnings] == [
        (True, False),
        (False, True),
    ]
