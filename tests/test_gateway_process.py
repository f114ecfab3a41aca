"""The gateways' callback server as a real process shows it: with Robokassa set up it listens
on PAYMENTS_HTTP_PORT in polling mode and on the webhook's port with a webhook, and a forged
Result URL gets 400, logged without a password. (The callbacks' behaviour is tested
in-process: tests/test_gateway_*.py.)"""

from __future__ import annotations

import signal
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import throwaway_database
from tests.support.processes import BotProcess, bot_env, free_port, webhook_settings
from tests.support.waiting import eventually

ROBOKASSA = {
    "ROBOKASSA_LOGIN": "demo-shop",
    "ROBOKASSA_PASSWORD1": "first-Pa55word",
    "ROBOKASSA_PASSWORD2": "second-Pa55word",
}


def _post(port: int, path: str, form: dict[str, str]) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:  # not listening yet
        return 0, ""


def _polling(port: int) -> dict[str, str]:
    return {"PAYMENTS_HTTP_HOST": "127.0.0.1", "PAYMENTS_HTTP_PORT": str(port)}


@pytest.mark.slow
@pytest.mark.parametrize("mode", [_polling, webhook_settings], ids=["polling", "webhook"])
def test_the_callbacks_are_served_and_a_forged_one_refused(
    mode: Callable[[int], dict[str, str]], fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    forged = {"OutSum": "150.00", "InvId": "1", "SignatureValue": "0" * 32}
    with throwaway_database("sqlite", tmp_path) as database:
        env = bot_env(database, api_url=fake_api.url, **mode(port), **ROBOKASSA)
        with BotProcess([], env, tmp_path) as bot:
            status, _ = eventually(
                lambda: _post(port, "/payments/robokassa/result", forged),
                lambda got: got[0] not in (0, 503),
                timeout=60,
            )
            assert status == 400
            assert bot.stop(signal.SIGTERM) == 0
    if mode is _polling:
        assert f"payment callbacks on 127.0.0.1:{port}" in bot.output
    assert "Result URL refused (InvId '1'): the signature does not match" in bot.output
    assert "Pa55word" not in bot.output
    assert "Traceback" not in bot.output
