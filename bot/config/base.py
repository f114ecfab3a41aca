"""What every area's settings share: where they are read from, and the checks of values that
several areas take (URLs, secrets mounted from files)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_HTTP_URL_HINT = "expected an http(s) base URL such as https://shop.example.com"


class EnvSettings(BaseSettings):
    """Read from the environment and `.env`. Every area derives from it, so however `Settings`
    lists the areas, they are all read alike."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)


def parse_url(value: str, schemes: tuple[str, ...], hint: str) -> SplitResult:
    """Split a URL, refusing another scheme, a missing host or a port outside 1-65535."""
    parts = urlsplit(value)
    if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.hostname):
        raise ValueError(hint)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"the port must be a number from 1 to 65535; {hint}")
    return parts


def base_url(value: str | None) -> str | None:
    """An http(s) base URL without its trailing slash, or None when blank."""
    if value is None or not value.strip():
        return None
    value = value.strip().rstrip("/")
    parse_url(value, ("http", "https"), _HTTP_URL_HINT)
    return value


def stripped(value: object) -> object:
    """A value without surrounding whitespace: a secret mounted from a file ends in a newline."""
    if isinstance(value, SecretStr):
        return SecretStr(value.get_secret_value().strip())
    return value.strip() if isinstance(value, str) else value


def given(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())
