"""Languages as a real `python main.py` shows them, on the fake Bot API: the command list set
for each client language (Russian for ru/uk/be/kk, DEFAULT_LANGUAGE for everyone else), and a
Russian and an English user each answered in their own language, switching with 🌐."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from bot.keyboards.callbacks import Menu, MenuAction, PickLanguage
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.telegram import Call
from tests.support.databases import throwaway_database
from tests.support.processes import BotProcess, bot_env

RUSSIAN_USER, ENGLISH_USER = 7101, 7102
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _descriptions(call: Call) -> str:
    return " ".join(str(command["description"]) for command in call.params["commands"])


def _reply(fake_api: FakeBotAPI, user_id: int, mark: int, method: str = "sendMessage") -> str:
    call = fake_api.wait_for(
        method, lambda call: int(call.params["chat_id"]) == user_id, after=mark, timeout=30
    )
    return str(call.params["text"])


def test_each_user_is_answered_in_their_language_and_the_menu_too(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with throwaway_database("sqlite", tmp_path) as database:
        env = bot_env(database, api_url=fake_api.url)
        with BotProcess([], env, tmp_path) as bot:
            fake_api.wait_for("getUpdates", timeout=60)
            commands = {
                call.params.get("language_code"): _descriptions(call)
                for call in fake_api.calls_of("setMyCommands")
            }
            assert set(commands) == {None, "ru", "uk", "be", "kk"}
            assert not CYRILLIC.search(commands[None])
            assert all(CYRILLIC.search(commands[code]) for code in ("ru", "uk", "be", "kk"))

            fake_api.set_client_language(RUSSIAN_USER, "ru")
            mark = fake_api.mark()
            fake_api.send_text(RUSSIAN_USER, "/start")
            assert CYRILLIC.search(_reply(fake_api, RUSSIAN_USER, mark))

            mark = fake_api.mark()
            fake_api.send_text(ENGLISH_USER, "/start")
            assert not CYRILLIC.search(_reply(fake_api, ENGLISH_USER, mark))

            for data in (Menu(action=MenuAction.LANGUAGE), PickLanguage(code="en")):
                mark = fake_api.mark()
                fake_api.push_update(fake_api.button_update(RUSSIAN_USER, data.pack()))
                last = _reply(fake_api, RUSSIAN_USER, mark, "editMessageText")
            assert not CYRILLIC.search(last)  # the menu again, in English now

            assert bot.stop(signal.SIGTERM) == 0
        assert "Traceback" not in bot.output
