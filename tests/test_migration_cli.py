"""Which alembic commands take the migration lock: read from alembic's own command line
parser, so a change in how alembic names its commands fails here, not in production."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import CommandLine, Config

from bot.migration.cli import CLI_READERS, cli_changes_schema, cli_command


def _config(*argv: str) -> Config:
    return Config(cmd_opts=CommandLine().parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "writes"),
    [
        (["current"], False),
        (["check"], False),
        (["revision", "--autogenerate", "-m", "probe"], False),
        (["upgrade", "head"], True),
        (["upgrade", "head", "--sql"], True),
        (["downgrade", "-1"], True),
        (["stamp", "head"], True),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_only_writing_commands_take_the_lock(argv: list[str], writes: bool) -> None:
    assert cli_changes_schema(_config(*argv)) is writes


def test_every_reader_is_a_command_alembic_has() -> None:
    for name in CLI_READERS:
        assert callable(getattr(command, name))
        assert cli_command(_config(name, *(["-m", "x"] if name == "revision" else []))) == name


def test_alembic_called_from_code_counts_as_writing() -> None:
    assert cli_command(Config()) is None
    assert cli_changes_schema(Config())
