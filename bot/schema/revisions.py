"""The code's side of the schema: alembic's config and the revision scripts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.schema.errors import MultipleHeadsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSION_TABLE = "alembic_version"


def alembic_config(extra_version_locations: Sequence[Path] = ()) -> Config:
    """alembic.ini of this project, usable from any working directory."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    locations = [PROJECT_ROOT / "migrations" / "versions", *extra_version_locations]
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    return config


class Revisions:
    """The revision graph the code ships, loaded once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.script = ScriptDirectory.from_config(config)

    def head(self) -> str:
        """The single head; several heads mean an unmerged branch, which we refuse."""
        heads = self.script.get_heads()
        if len(heads) != 1:
            raise MultipleHeadsError(sorted(heads))
        return heads[0]

    def unknown(self, revisions: Sequence[str]) -> tuple[str, ...]:
        """Those of `revisions` that no script of the code defines."""
        return tuple(rev for rev in revisions if not self._knows(rev))

    def _knows(self, revision: str) -> bool:
        try:
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False

    def pending(self, current: Sequence[str]) -> tuple[str, ...]:
        """Revisions between `current` and the head, oldest first."""
        lower = tuple(current) or None
        path = self.script.iterate_revisions(self.head(), lower)  # newest first
        return tuple(reversed([script.revision for script in path]))
