"""The head read from the scripts' text must be alembic's head, or no answer at all.

Chains are written by alembic itself from the project's script.py.mako. Where the text scan
answers, it must agree with `ScriptDirectory.get_heads()`; where it cannot be sure (a script it
cannot read as plain literals, a broken or branched graph) it must step aside, and `Revisions`
then gives alembic's answer, errors included.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from bot.schema import revisions
from bot.schema.errors import MultipleHeadsError
from bot.schema.revisions import PROJECT_ROOT, Revisions, alembic_config, scan_graph


class FullMapRevisions(Revisions):
    """Every answer from alembic's full revision map (the behaviour before the text scan)."""

    _graph = None


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

    def add(self, head: str | Sequence[str] | None, *, splice: bool = False, **kw: object) -> str:
        self.count += 1
        written = self.script.generate_revision(
            f"r{self.count:04d}x{abs(hash(str(self.versions))) % 10**6:06d}",
            f"revision {self.count}",
            head=head if head is not None else "base",
            splice=splice,
            version_path=str(self.versions),
            **kw,
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
        path = self.path_of(revision)
        path.write_text(change(path.read_text()))


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    versions = tmp_path / "versions"
    versions.mkdir()
    return Chain(standalone_config(versions), versions)


def alembic_heads(config: Config) -> list[str]:
    return sorted(ScriptDirectory.from_config(config).get_heads())


def assert_fast_and_equal(config: Config) -> str:
    graph = scan_graph(ScriptDirectory.from_config(config))
    assert graph is not None, "the text scan should have decided"
    assert [graph.head] == alembic_heads(config)
    assert Revisions(config).head() == graph.head
    return graph.head


def assert_falls_back_and_equal(config: Config) -> None:
    assert scan_graph(ScriptDirectory.from_config(config)) is None
    heads = alembic_heads(config)
    if len(heads) == 1:
        assert Revisions(config).head() == heads[0]
    else:
        with pytest.raises(MultipleHeadsError) as refused:
            Revisions(config).head()
        assert list(refused.value.heads) == heads


@pytest.mark.parametrize("length", [1, 10, 100])
def test_linear_chain(chain: Chain, length: int) -> None:
    head = chain.linear(length)
    assert assert_fast_and_equal(chain.config) == head


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
    assert assert_fast_and_equal(chain.config) == head


@pytest.mark.parametrize("length", [10, 100])
def test_unmerged_branch_is_still_refused(chain: Chain, length: int) -> None:
    _, branch = trunk_and_branch(chain, length)
    chain.linear(length - chain.count, branch)
    assert chain.count == length
    assert len(alembic_heads(chain.config)) == 2
    assert_falls_back_and_equal(chain.config)


def test_two_bases_two_heads_are_refused(chain: Chain) -> None:
    chain.linear(3)
    chain.linear(3, chain.add(None, splice=True))
    assert_falls_back_and_equal(chain.config)


def test_project_chain_and_an_extra_directory_on_top(tmp_path: Path) -> None:
    project_head = assert_fast_and_equal(alembic_config())
    versions = tmp_path / "versions"
    versions.mkdir()
    config = alembic_config([versions])
    config.cmd_opts = argparse.Namespace(quiet=True)
    extra = Chain(config, versions)
    head = extra.linear(10, project_head)
    assert assert_fast_and_equal(config) == head


def _rebind_down_revision(text: str) -> str:
    return text + "\nif True:\n    down_revision = None\n"


FALLS_BACK = {
    "computed revision id": lambda text: re.sub(
        r"^revision: str = '(\w+)'", r'revision: str = "".join(["\1"])', text, flags=re.M
    ),
    "re-bound in a block": _rebind_down_revision,
    "named in a string": lambda text: text + '\nNAME = "down_revision"\n',
    "star import": lambda text: text.replace("import sqlalchemy as sa", "from os.path import *"),
    "branch label": lambda text: text.replace(
        "branch_labels: str | Sequence[str] | None = None", "branch_labels = ('bench',)"
    ),
    "depends_on": lambda text: re.sub(
        r"^down_revision: [^=\n]+ = (.+)$", r"down_revision = \1\ndepends_on = \1", text, flags=re.M
    ).replace("depends_on: str | Sequence[str] | None = None\n", ""),
    "no down_revision": lambda text: re.sub(r"^down_revision.*\n", "", text, flags=re.M),
}


@pytest.mark.parametrize("change", FALLS_BACK.values(), ids=FALLS_BACK.keys())
def test_scripts_the_scan_cannot_vouch_for(chain: Chain, change: Callable[[str], str]) -> None:
    chain.linear(5)
    middle = sorted(path.name for path in chain.versions.glob("*.py"))[2]
    path = chain.versions / middle
    path.write_text(change(path.read_text()))
    try:
        alembic_heads(chain.config)
    except Exception as error:  # alembic refuses the chain: so must Revisions
        assert scan_graph(ScriptDirectory.from_config(chain.config)) is None
        with pytest.raises(type(error)):
            Revisions(chain.config).head()
        return
    assert_falls_back_and_equal(chain.config)


STILL_FAST = {
    "comment": lambda text: text.replace("def upgrade", "# this revision is plain\ndef upgrade"),
    "byte order mark": lambda text: "\ufeff" + text,
    "docstring": lambda text: text.replace('"""\n\nfrom', 'revision = "not-this-one"\n"""\n\nfrom'),
    "plain assignments": lambda text: re.sub(r"^(\w+): [^=\n]+ = ", r"\1 = ", text, flags=re.M),
    "wrapped tuple": lambda text: re.sub(
        r"^down_revision: [^=\n]+ = '(\w+)'", r"down_revision = (\n    '\1',\n)", text, flags=re.M
    ),
}


@pytest.mark.parametrize("change", STILL_FAST.values(), ids=STILL_FAST.keys())
def test_scripts_the_scan_still_reads(chain: Chain, change: Callable[[str], str]) -> None:
    head = chain.linear(5)
    for path in chain.versions.glob("*.py"):
        path.write_text(change(path.read_text()))
    assert assert_fast_and_equal(chain.config) == head


def test_broken_graphs_fall_back(chain: Chain) -> None:
    first = chain.linear(1)
    second = chain.linear(2, first)
    chain.edit(first, lambda text: text.replace("= None", f"= {second!r}", 1))  # a cycle
    assert scan_graph(ScriptDirectory.from_config(chain.config)) is None
    chain.edit(first, lambda text: text.replace(repr(second), "'missing'", 1))
    assert scan_graph(ScriptDirectory.from_config(chain.config)) is None


def test_duplicate_revision_ids_fall_back(chain: Chain) -> None:
    head = chain.linear(3)
    path = chain.path_of(head)
    (chain.versions / f"copy_{path.name}").write_text(path.read_text())
    assert scan_graph(ScriptDirectory.from_config(chain.config)) is None


def test_unknown_matches_alembic(chain: Chain) -> None:
    head = chain.linear(10)
    asked = [head, head[:6], "ffffffffffff", chain.script.get_revision(head).down_revision]
    fast, full = Revisions(chain.config), FullMapRevisions(chain.config)
    assert fast.unknown(asked) == full.unknown(asked) == ("ffffffffffff",)
    assert fast.pending([]) == full.pending([])


@pytest.fixture
def bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def scan(chain: Chain) -> revisions.RevisionGraph | None:
    return scan_graph(ScriptDirectory.from_config(chain.config))


@pytest.mark.usefixtures("bytecode_written")
def test_the_cache_spares_reading_unchanged_scripts(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = chain.linear(10)
    first = scan(chain)
    cache = revisions._cache_file(chain.versions)
    assert cache is not None and cache.exists()

    def no_reading(path: Path) -> None:
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(revisions, "_parse_script", no_reading)
    assert scan(chain) == first
    assert first is not None and first.head == head


@pytest.mark.usefixtures("bytecode_written")
def test_the_cache_sees_every_change(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    head = chain.linear(10)
    assert_fast_and_equal(chain.config)
    head = chain.linear(1, head)  # a new script
    assert assert_fast_and_equal(chain.config) == head
    fork = chain.script.get_revision(head).down_revision
    assert isinstance(fork, str)
    chain.edit(head, lambda text: text.replace(repr(fork), "'dangling'"))
    assert scan(chain) is None  # alembic refuses a dangling down revision
    chain.edit(head, lambda text: text.replace("'dangling'", repr(fork)))
    path = chain.path_of(head)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    reads = []
    parse = revisions._parse_script
    monkeypatch.setattr(revisions, "_parse_script", lambda p: reads.append(p) or parse(p))
    assert assert_fast_and_equal(chain.config) == head
    assert reads == [path], "only the script whose stat changed is read again"


@pytest.mark.usefixtures("bytecode_written")
def test_a_corrupt_cache_is_ignored(chain: Chain) -> None:
    head = chain.linear(5)
    assert_fast_and_equal(chain.config)
    cache = revisions._cache_file(chain.versions)
    assert cache is not None
    for junk in ("not json", "[]", '{"format": 1, "scripts": {"x.py": [1]}}'):
        cache.write_text(junk)
        assert assert_fast_and_equal(chain.config) == head


def test_no_cache_without_bytecode(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    head = chain.linear(5)
    assert assert_fast_and_equal(chain.config) == head
    cache = revisions._cache_file(chain.versions)
    assert cache is not None and not cache.exists()
