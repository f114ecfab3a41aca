"""The database's settings: `DatabaseSettings`, all that migrating needs (no bot token), and
the bot's reads from a replica."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.config.base import EnvSettings, stripped

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/shopbot.sqlite3"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_database_url(raw: str) -> URL:
    """Parse a database URL and switch it to the async driver this project ships."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError(
            "not a database URL; expected e.g. postgresql+asyncpg://user:pass@host/db "
            "or sqlite+aiosqlite:///data/shopbot.sqlite3"
        ) from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database driver {url.drivername!r}; "
            "use postgresql+asyncpg://... or sqlite+aiosqlite:///path"
        )
    return url.set(drivername=driver)


class DatabaseSettings(EnvSettings):
    """What the migrator needs: the database and how patient to be with it."""

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    migration_lock_timeout: float = Field(60.0, gt=0)
    schema_wait_timeout: float = Field(120.0, ge=0)
    ddl_lock_timeout: float = Field(5.0, gt=0)
    ddl_lock_retries: int = Field(3, ge=0)
    db_connect_timeout: float = Field(30.0, ge=0)
    migration_heartbeat: float = Field(10.0, gt=0)
    migration_backups: int = Field(3, ge=0)  # SQLite: copies kept of the database before a change
    allow_unknown_revision: bool = False
    extra_migration_dirs: Annotated[tuple[Path, ...], NoDecode] = ()
    # Before a start applies revisions: a write-blocking statement on a table above the rows.
    migration_guard: Literal["refuse", "warn", "off"] = "refuse"
    migration_guard_rows: int = Field(1_000_000, ge=0)
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: object) -> object:
        value = stripped(value)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str):
            normalize_database_url(raw)
        return value

    @field_validator("extra_migration_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(part) for part in value.split(os.pathsep) if part.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("migration_guard", mode="before")
    @classmethod
    def _lower_guard(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def database(self) -> URL:
        return normalize_database_url(self.database_url.get_secret_value())


def database_secrets(settings: DatabaseSettings) -> list[str]:
    password = settings.database.password
    return [str(password)] if password else []


class ReadReplicaSettings(EnvSettings):
    """A hot standby of DATABASE_URL for reads (PostgreSQL); writes and migrations stay on
    DATABASE_URL, and reads fall back to it while the replica lags or is down. The bot's
    alone: migrating needs none of it."""

    database_read_url: SecretStr | None = None
    read_replica_max_lag: float = Field(5.0, gt=0, le=3600)

    @field_validator("database_read_url", mode="before")
    @classmethod
    def _strip_read_url(cls, value: object) -> object:
        return stripped(value)

    @field_validator("database_read_url")
    @classmethod
    def _check_read_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if normalize_database_url(value.get_secret_value()).get_backend_name() != "postgresql":
            raise ValueError("expected a PostgreSQL URL of a hot standby of DATABASE_URL")
        return value

    @property
    def database_read(self) -> URL | None:
        """DATABASE_READ_URL parsed, or None when every read goes to DATABASE_URL."""
        if self.database_read_url is None:
            return None
        return normalize_database_url(self.database_read_url.get_secret_value())
