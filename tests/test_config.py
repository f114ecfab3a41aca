"""Settings: a bad or missing value is one line naming the variable, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    DatabaseSettings,
    Settings,
    load_settings,
)
from tests.support.processes import TEST_TOKEN, clean_env, run_main

SETTING_NAMES = (
    "BOT_TOKEN",
    "DATABASE_URL",
    "ADMIN_IDS",
    "BOT_API_URL",
    "LOG_LEVEL",
    "PAYMENTS_CURRENCY",
    "REDIS_URL",
    "PAYMENTS_PROVIDER_TOKEN",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env and no inherited settings leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_database_settings_need_no_bot_token() -> None:
    settings = load_settings(DatabaseSettings)
    assert settings.database.render_as_string() == DEFAULT_DATABASE_URL


def test_missing_bot_token_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^BOT_TOKEN: is required; set it in the environment"):
        load_settings(Settings)


def test_settings_are_read_from_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"BOT_TOKEN={TEST_TOKEN}\nADMIN_IDS=1, 22;333\nBOT_API_URL=http://localhost:8081/\n"
        "DATABASE_URL=postgres://shop:pw@db/shop\n"
    )
    settings = load_settings(Settings)
    assert settings.admin_ids == {1, 22, 333}
    assert settings.bot_api_url == "http://localhost:8081"
    assert settings.database.drivername == "postgresql+asyncpg"
    assert "pw" in settings.secrets
    assert TEST_TOKEN in settings.secrets


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN: not a bot token"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: unsupported database driver 'mysql'"),
        ("DATABASE_URL", "::nonsense::", "DATABASE_URL: not a database URL"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS: expected comma-separated numeric Telegram user ids"),
        ("BOT_API_URL", "localhost:8081", "BOT_API_URL: expected an http(s) base URL"),
        ("PAYMENTS_CURRENCY", "rubles", "PAYMENTS_CURRENCY: expected a three-letter"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: "),
        ("MIGRATION_LOCK_TIMEOUT", "-1", "MIGRATION_LOCK_TIMEOUT: "),
    ],
)
def test_malformed_value_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(Settings)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_secret_values_never_appear_in_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:short")  # malformed, and a secret all the same
    with pytest.raises(ConfigError) as raised:
        load_settings(Settings)
    assert "short" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "shopbot: configuration error: BOT_TOKEN: is required"),
        ({"BOT_TOKEN": "oops"}, "shopbot: configuration error: BOT_TOKEN: not a bot token"),
        (
            {"BOT_TOKEN": TEST_TOKEN, "DATABASE_URL": "oracle://u:hunter22@h/db"},
            "DATABASE_URL: unsupported database driver 'oracle'",
        ),
    ],
)
def test_main_refuses_bad_settings_with_exit_code_2(
    tmp_path: Path, settings: dict[str, str], expected: str
) -> None:
    result = run_main([], clean_env(**settings), tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "hunter22" not in result.stderr


def test_migrate_only_needs_no_bot_token_and_creates_the_data_directory(tmp_path: Path) -> None:
    result = run_main(["--migrate-only"], clean_env(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "shopbot.sqlite3").is_file()


def test_help_documents_the_flags(tmp_path: Path) -> None:
    result = run_main(["--help"], clean_env(), tmp_path)
    assert result.returncode == 0
    for flag in ("--no-migrate", "--migrate-only", "exit codes"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOT_API_URL", "http://127.0.0.1:99999", "BOT_API_URL: the port must be a number"),
        ("BOT_API_URL", "http://127.0.0.1:http/", "BOT_API_URL: the port must be a number"),
        ("WEBHOOK_URL", "https://shop.example.com:0", "WEBHOOK_URL: the port must be a number"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: expected a Redis URL"),
        ("REDIS_URL", "redis://:hunter22@h:70000/0", "REDIS_URL: the port must be a number"),
        ("REDIS_URL", "redis://h:6379/zero", "REDIS_URL: the database after the host"),
    ],
)
def test_malformed_urls_are_refused_before_anything_is_touched(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    """Before migrating (the default SQLite file is never created), exit 2, one line."""
    result = run_main([], clean_env(BOT_TOKEN=TEST_TOKEN, **{variable: value}), tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"shopbot: configuration error: {message}")
    assert result.stderr.count("\n") == 1
    assert "hunter22" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_secrets_mounted_from_files_lose_their_surrounding_whitespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_TOKEN", f" {TEST_TOKEN}\n")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@localhost:6379/0\n")
    monkeypatch.setenv("PAYMENTS_PROVIDER_TOKEN", "381764678:TEST:1234\r\n")
    settings = load_settings(Settings)
    assert settings.bot_token.get_secret_value() == TEST_TOKEN
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://:pw@localhost:6379/0"
    assert settings.payments_provider_token is not None
    assert settings.payments_provider_token.get_secret_value() == "381764678:TEST:1234"
