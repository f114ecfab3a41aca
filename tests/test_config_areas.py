"""Settings composed of one class per area: none hides another's variable or check, and the
migrator's DatabaseSettings keeps to the database."""

from __future__ import annotations

from bot.config import DatabaseSettings, Settings

AREAS = Settings.__bases__


def test_every_area_keeps_its_variables() -> None:
    """Two areas declaring one variable would leave a single field and no error."""
    declared = [name for area in AREAS for name in area.model_fields]
    assert len(declared) == len(set(declared)) == len(Settings.model_fields)


def test_every_area_keeps_its_checks() -> None:
    """Pydantic keeps one validator per name: a second `_check_url` would drop the first."""
    checks = [name for area in AREAS for name in area.__pydantic_decorators__.field_validators]
    assert len(checks) == len(set(checks))
    assert set(checks) == set(Settings.__pydantic_decorators__.field_validators)


def test_the_migrator_reads_only_the_database_area() -> None:
    assert set(DatabaseSettings.model_fields) < set(Settings.model_fields)
    assert "database_read_url" not in DatabaseSettings.model_fields
    assert "bot_token" not in DatabaseSettings.model_fields
