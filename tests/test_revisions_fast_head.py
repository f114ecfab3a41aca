"""`Revisions` answers as alembic does, and from its cache while no file alembic reads changed.

Chains are written by alembic itself from the project's script.py.mako into temporary
directories. Each answer is compared with `ScriptDirectory`'s, first on a cache miss (alembic's
revision map built, every script imported) then on a hit (no map, no import).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.migration.errors import MultipleHeadsError
from bot.migration.revisions import PROJECT_ROOT, Revisions, alembic_config

CACHE = "shopbot_revisions_*.json"


@pytest.fixture(autouse=True)
def bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Python does by default, whatever PYTHONDONTWRITEBYTECODE says here."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def standalone_config(versions: Path) -> Config:
    config = Config()
    config.cmd_opts = argparse.Namespace(quiet=True)
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("version_locations", str(versions))
    config.set_main_option("path_separator", "os")
    return config


class Chain:
    """Writes revisions with alembic into one versions directory."""

    def __init__(self, config: Config, versions: Path) -> None:
        self.config = config
        self.versions = versions
        self.script = ScriptDirectory.from_config(config)
        self.count = 0

    def add(self, head: str | Sequence[str] | None, *, splice: bool = False) -> str:
        self.count += 1
        written = self.script.generate_revision(
            f"r{self.count:04d}x{abs(hash(str(self.versions))) % 10**6:06d}",
            f"revision {self.count}",
            head=head if head is not None else "base",
            splice=splice,
            version_path=str(self.versions),
        )
        assert written is not None
        return written.revision

    def linear(self, length: int, head: str | None = None) -> str:
        for _ in range(length):
            head = self.add(head)
        assert head is not None
        return head

    def path_of(self, revision: str) -> Path:
        (path,) = self.versions.glob(f"*{revision}*.py")
        return path

    def edit(self, revision: str, change: Callable[[str], str]) -> None:
        """An edit a second after the last, as a person makes it: Python trusts a .pyc by the
        size and the mtime in whole seconds, so alembic itself would not see a same-size edit
        within the second."""
        path = self.path_of(revision)
        mtime = path.stat().st_mtime_ns
        path.write_text(change(path.read_text()))
        os.utime(path, ns=(mtime + 10**9, mtime + 10**9))

    def cache_files(self) -> list[Path]:
        return list((self.versions / "__pycache__").glob(CACHE))


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    versions = tmp_path / "versions"
    versions.mkdir()
    return Chain(standalone_config(versions), versions)


def map_built(revisions: Revisions) -> bool:
    """Whether alembic built its revision map, importing every script, for the answers so far."""
    return "_revision_map" in vars(revisions.script.revision_map)


def head_or_heads(revisions: Revisions) -> str | list[str]:
    try:
        return revisions.head()
    except MultipleHeadsError as refused:
        return list(refused.heads)


def assert_answers_as_alembic(config: Config) -> str | list[str]:
    """alembic's head (or its sorted heads, refused): from its map on a miss, then from the
    cache alone."""
    heads = sorted(ScriptDirectory.from_config(config).get_heads())
    expected = heads[0] if len(heads) == 1 else heads
    for from_alembic in (True, False):
        revisions = Revisions(config)
        assert head_or_heads(revisions) == expected
        assert map_built(revisions) is from_alembic
    return expected


@pytest.mark.parametrize("length", [1, 10, 100])
def test_linear_chain(chain: Chain, length: int) -> None:
    head = chain.linear(length)
    assert assert_answers_as_alembic(chain.config) == head


def trunk_and_branch(chain: Chain, length: int) -> tuple[str, str]:
    """A trunk of `length // 2` revisions and a branch off the one before its tip."""
    trunk = chain.linear(length // 2)
    fork = chain.script.get_revision(trunk).down_revision
    assert isinstance(fork, str)
    return trunk, chain.add(fork, splice=True)


@pytest.mark.parametrize("length", [10, 100])
def test_branch_and_merge(chain: Chain, length: int) -> None:
    trunk, branch = trunk_and_branch(chain, length)
    merge = chain.add([trunk, chain.linear(length // 4, branch)])
    head = chain.linear(length - chain.count, merge)
    assert assert_answers_as_alembic(chain.config) == head


@pytest.mark.parametrize("length", [10, 100])
def test_unmerged_branch_is_refused(chain: Chain, length: int) -> None:
    trunk, branch = trunk_and_branch(chain, length)
    branch = chain.linear(length - chain.count, branch)
    assert assert_answers_as_alembic(chain.config) == sorted([trunk, branch])


def test_two_bases_two_heads_are_refused(chain: Chain) -> None:
    first = chain.linear(3)
    second = chain.linear(3, chain.add(None, splice=True))
    assert assert_answers_as_alembic(chain.config) == sorted([first, second])


def test_no_revision_at_all_is_refused_as_zero_heads(chain: Chain) -> None:
    assert assert_answers_as_alembic(chain.config) == []


def test_project_chain_and_an_extra_directory_on_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache lives beside the first location's bytecode: the project's, moved by a prefix.
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    project_head = assert_answers_as_alembic(alembic_config())
    versions = tmp_path / "versions"
    versions.mkdir()
    config = alembic_config([versions])
    config.cmd_opts = argparse.Namespace(quiet=True)
    head = Chain(config, versions).linear(10, project_head)
    assert assert_answers_as_alembic(config) == head
    assert len(list((tmp_path / "pycache").rglob(CACHE))) == 2, "one per list of locations"


def test_a_hit_imports_no_script(chain: Chain, tmp_path: Path) -> None:
    head = chain.linear(3)
    marker = tmp_path / "imports"
    on_import = f"\nwith open({str(marker)!r}, 'a') as log:\n    log.write('x')\n"
    chain.edit(head, lambda text: text + on_import)
    assert Revisions(chain.config).head() == head
    assert marker.read_text() == "x"
    assert Revisions(chain.config).head() == head
    assert marker.read_text() == "x", "the cache hit imported the script"
    ScriptDirectory.from_config(chain.config).get_heads()
    assert marker.read_text() == "xx", "alembic imports it each time"


def test_the_cache_sees_every_change(chain: Chain) -> None:
    parent = chain.linear(5)
    assert assert_answers_as_alembic(chain.config) == parent
    head = chain.add(parent)  # a new file
    assert assert_answers_as_alembic(chain.config) == head
    fork = chain.script.get_revision(parent).down_revision
    assert isinstance(fork, str)
    chain.edit(head, lambda text: text.replace(repr(parent), repr(fork)))  # the same size
    assert assert_answers_as_alembic(chain.config) == sorted([parent, head])
    chain.path_of(head).unlink()
    assert assert_answers_as_alembic(chain.config) == parent


def test_subdirectories_count_when_recursive(chain: Chain) -> None:
    chain.config.set_main_option("recursive_version_locations", "true")
    parent = chain.linear(3)
    head = chain.add(parent)
    moved = chain.versions / "sub" / chain.path_of(head).name
    moved.parent.mkdir()
    chain.path_of(head).rename(moved)
    assert assert_answers_as_alembic(chain.config) == head
    moved.unlink()
    assert assert_answers_as_alembic(chain.config) == parent


def test_a_corrupt_cache_is_ignored_and_rewritten(chain: Chain) -> None:
    head = chain.linear(5)
    assert assert_answers_as_alembic(chain.config) == head
    (cache,) = chain.cache_files()
    valid = cache.read_text()
    for junk in ("not json", "{}", "[1, 2]", '["another key", ["x"], ["x"]]', valid[:-9]):
        cache.write_text(junk)
        assert assert_answers_as_alembic(chain.config) == head
        assert cache.read_text() == valid


def no_bytecode(monkeypatch: pytest.MonkeyPatch, chain: Chain) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def unwritable(monkeypatch: pytest.MonkeyPatch, chain: Chain) -> None:
    (chain.versions / "__pycache__").write_text("a file where the cache's directory would be")


def sourceless(monkeypatch: pytest.MonkeyPatch, chain: Chain) -> None:
    """alembic may then load .pyc files from __pycache__ too: no cache at all."""
    chain.config.set_main_option("sourceless", "true")


@pytest.mark.parametrize("setting", [no_bytecode, unwritable, sourceless])
def test_without_a_cache_alembic_answers(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, setting: Callable[..., None]
) -> None:
    setting(monkeypatch, chain)
    head = chain.linear(5)
    for _ in range(2):
        revisions = Revisions(chain.config)
        assert revisions.head() == head
        assert map_built(revisions)
    assert chain.cache_files() == []


def test_unknown_matches_alembic(chain: Chain) -> None:
    head = chain.linear(10)
    parent = chain.script.get_revision(head).down_revision
    assert isinstance(parent, str)
    asked = [head, parent, head[:6], "ffffffffffff", "r00"]  # r00: a prefix of all ten
    script = ScriptDirectory.from_config(chain.config)
    expected = []
    for revision in asked:
        try:
            script.get_revision(revision)
        except CommandError:
            expected.append(revision)
    assert expected == ["ffffffffffff", "r00"]
    for _ in ("miss", "hit"):
        assert Revisions(chain.config).unknown(asked) == tuple(expected)
    path = [revision.revision for revision in script.walk_revisions()]
    assert Revisions(chain.config).pending([]) == tuple(reversed(path))
