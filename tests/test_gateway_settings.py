"""The gateways' settings: each is on when its credentials are set, half a Robokassa setup
or a polling bot without a callback port is one line naming what to set, and the secrets
join the ones the log hides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from tests.support.processes import TEST_TOKEN

ROBOKASSA = {
    "ROBOKASSA_LOGIN": "demo-shop",
    "ROBOKASSA_PASSWORD1": "first-Pa55word",
    "ROBOKASSA_PASSWORD2": "second-Pa55word",
}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only these tests' settings: no developer .env, no inherited variables."""
    monkeypatch.chdir(tmp_path)
    for name in [*ROBOKASSA, "CRYPTOPAY_TOKEN", "PAYMENTS_HTTP_PORT", "WEBHOOK_URL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    return monkeypatch


def test_no_gateway_by_default() -> None:
    settings = load_settings(Settings)
    assert not settings.gateways_enabled


def test_robokassa_and_crypto_pay_with_a_callback_port(environment: pytest.MonkeyPatch) -> None:
    for name, value in {
        **ROBOKASSA,
        "ROBOKASSA_HASH": "SHA256",
        "CRYPTOPAY_TOKEN": " 7777:AAtoken\n",
        "CRYPTOPAY_ASSETS": "usdt, ton",
        "PAYMENTS_HTTP_PORT": "8081",
    }.items():
        environment.setenv(name, value)
    settings = load_settings(Settings)
    assert (settings.robokassa_enabled, settings.cryptopay_enabled) == (True, True)
    assert settings.robokassa_hash == "sha256"
    assert settings.cryptopay_assets == ("USDT", "TON")
    assert {"first-Pa55word", "second-Pa55word", "7777:AAtoken"} <= set(settings.secrets)


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"ROBOKASSA_LOGIN": "demo-shop", "PAYMENTS_HTTP_PORT": "8081"},
            "ROBOKASSA_LOGIN, ROBOKASSA_PASSWORD1 and ROBOKASSA_PASSWORD2: set all three",
        ),
        (ROBOKASSA, "PAYMENTS_HTTP_PORT: required in polling mode when Robokassa or Crypto Pay"),
        (
            {
                "CRYPTOPAY_TOKEN": "7777:AAtoken",
                "PAYMENTS_HTTP_PORT": "8081",
                "HEALTH_PORT": "8081",
            },
            "PAYMENTS_HTTP_PORT: must differ from HEALTH_PORT",
        ),
        (
            {
                **ROBOKASSA,
                "WEBHOOK_URL": "https://shop.example.com",
                "WEBHOOK_SECRET": "s3cret",
                "PAYMENTS_HTTP_PORT": "8081",
            },
            "PAYMENTS_HTTP_PORT is for polling",
        ),
        ({"CRYPTOPAY_ASSETS": "US DT"}, "CRYPTOPAY_ASSETS: expected comma-separated"),
        ({"ROBOKASSA_HASH": "sha1"}, "ROBOKASSA_HASH: "),
    ],
)
def test_a_wrong_setup_is_one_line(
    environment: pytest.MonkeyPatch, settings: dict[str, str], line: str
) -> None:
    for name, value in settings.items():
        environment.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(Settings)
    message = str(refused.value)
    assert line in message
    assert "\n" not in message and "Pa55word" not in message and "AAtoken" not in message
