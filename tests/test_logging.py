"""Logging: stdlib loggers land in loguru, and secrets are masked wherever they appear."""

from __future__ import annotations

import json
import logging

import pytest

from bot.log import MASK, setup_logging

TOKEN = "987654:AAE-secret-token-value"
PASSWORD = "s3cr3t-db-password"


@pytest.fixture(autouse=True)
def restore_logging() -> None:
    yield
    setup_logging("INFO", "text")


def test_stdlib_records_are_routed_and_masked(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text", [TOKEN, PASSWORD])
    logging.getLogger("aiogram.dispatcher").info("POST /bot%s/getMe", TOKEN)
    logging.getLogger("sqlalchemy.pool").warning("connect to postgresql://u:%s@h/db", PASSWORD)
    err = capsys.readouterr().err
    assert f"POST /bot{MASK}/getMe" in err
    assert f"postgresql://u:{MASK}@h/db" in err
    assert TOKEN not in err
    assert PASSWORD not in err


def test_exceptions_are_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text", [TOKEN])
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        logging.getLogger("aiohttp.client").exception("boom")
    err = capsys.readouterr().err
    assert "RuntimeError" in err
    assert TOKEN not in err


def test_json_format_is_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json", [PASSWORD])
    logging.getLogger("alembic.runtime.migration").info("password=%s", PASSWORD)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    record = json.loads(lines[-1])
    assert record["level"] == "INFO"
    assert record["logger"].startswith("alembic")
    assert record["message"] == f"password={MASK}"


def test_sql_echo_only_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
    assert "SELECT 1" not in capsys.readouterr().err
    setup_logging("DEBUG", "text")
    logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
    assert "SELECT 1" in capsys.readouterr().err
