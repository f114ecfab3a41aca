"""The code's side of the schema: alembic's config and the revision scripts.

Asking alembic for the head imports every revision script, 0.1-0.25 ms per revision at every
start, even when the database is already at head. So its answers are cached beside the scripts'
bytecode, valid while every file alembic would read keeps its size and mtime (the rule by which
Python trusts a .pyc): alembic computes every answer, the cache only remembers it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.machinery import SourceFileLoader
from pathlib import Path

import alembic
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.migration.errors import MultipleHeadsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSION_TABLE = "alembic_version"
_CACHE_FORMAT = 1


def alembic_config(extra_version_locations: Sequence[Path] = ()) -> Config:
    """alembic.ini of this project, usable from any working directory."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    locations = [PROJECT_ROOT / "migrations" / "versions", *extra_version_locations]
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    return config


class Revisions:
    """The revision graph the code ships. alembic's revision map, which imports every script, is
    built on a cache miss, for an id the cache lacks and when something must run."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Cheap: alembic reads no script until its revision map is first asked for.
        self.script = ScriptDirectory.from_config(config)

    @cached_property
    def _summary(self) -> tuple[tuple[str, ...], frozenset[str]]:
        cache = _cache(self.script)  # before alembic reads: a change meanwhile, a miss next time
        if cache is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                key, heads, ids = json.loads(cache[0].read_bytes())
                if key == cache[1]:
                    return tuple(heads), frozenset(ids)
        heads = self.script.get_heads()
        ids = sorted(script.revision for script in self.script.walk_revisions())
        if cache is not None and not sys.dont_write_bytecode:
            # As Python writes a .pyc: atomically, and not at all where it cannot.
            SourceFileLoader(__name__, __file__).set_data(
                str(cache[0]), json.dumps([cache[1], heads, ids]).encode()
            )
        return tuple(heads), frozenset(ids)

    def head(self) -> str:
        """The single head; several heads mean an unmerged branch, which we refuse."""
        heads, _ = self._summary
        if len(heads) != 1:
            raise MultipleHeadsError(sorted(heads))
        return heads[0]

    def unknown(self, revisions: Sequence[str]) -> tuple[str, ...]:
        """Those of `revisions` that no script of the code defines."""
        return tuple(rev for rev in revisions if not self._knows(rev))

    def _knows(self, revision: str) -> bool:
        if revision in self._summary[1]:
            return True
        try:  # alembic also resolves unique prefixes and branch labels
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False

    def pending(self, current: Sequence[str]) -> tuple[str, ...]:
        """What an upgrade from `current` to the head runs, oldest first: every ancestor of
        the head that is not `current` or below it (a merge brings in the other branch)."""
        done = {revision for base in current for revision in self._lineage(base)}
        upgrade_order = reversed(self._lineage(self.head()))
        return tuple(revision for revision in upgrade_order if revision not in done)

    def _lineage(self, revision: str) -> list[str]:
        """`revision` and all its ancestors, each after its descendants."""
        return [script.revision for script in self.script.iterate_revisions(revision, "base")]

    def discard_cache(self) -> None:
        """Delete the cached answers for these version locations, if any: the next question
        goes to alembic's revision map and caches its answers again."""
        cache = _cache(self.script)
        if cache is not None:
            cache[0].unlink(missing_ok=True)

    def descriptions(self, revisions: Sequence[str]) -> dict[str, str]:
        """Each revision's message, as its script's docstring gives it."""
        found = {}
        for revision in revisions:
            script = self.script.get_revision(revision)
            found[revision] = (script.doc if script is not None else "") or ""
        return found


def _cache(script: ScriptDirectory) -> tuple[Path, str] | None:
    """The cache file of these version locations, beside the last one's bytecode (so a
    temporary extra location takes its cache away with it, and PYTHONPYCACHEPREFIX is
    honoured), and its key: a hash of the size and mtime of every file alembic could load."""
    if script.sourceless:  # alembic would also load .pyc files from __pycache__
        return None
    locations = script._version_locations  # resolved by alembic, in its order
    tag = hashlib.sha256(os.pathsep.join(map(str, locations)).encode()).hexdigest()[:12]
    recursive = script.recursive_version_locations  # else alembic reads the top only
    listing: list[object] = [_CACHE_FORMAT, alembic.__version__]
    try:
        pyc = importlib.util.cache_from_source(str(locations[-1] / f"shopbot_revisions_{tag}.py"))
        for root, directories, names in (step for path in locations for step in os.walk(path)):
            directories[:] = sorted(d for d in directories if recursive and d != "__pycache__")
            listing.append(root)
            for name in sorted(names):
                stat = os.stat(os.path.join(root, name))
                listing.append((name, stat.st_size, stat.st_mtime_ns))
    except (OSError, NotImplementedError):  # a file gone meanwhile; no bytecode in this Python
        return None
    return Path(pyc).with_suffix(".json"), hashlib.sha256(repr(listing).encode()).hexdigest()
