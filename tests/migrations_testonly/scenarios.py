"""How tests use the test-only revisions: a scenario directory copied for one test, its
gates, and what the revisions left behind in the database.

The revision files are templates: `down_revision = "<real head>"` stands for the newest revision
in migrations/versions, filled in by `scenario()` as it copies a directory (the copy reaches the
process through EXTRA_MIGRATION_DIRS). So the scenarios always build on the real schema,
whatever revisions are added later, and never sit in migrations/versions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.migration.revisions import Revisions, alembic_config
from tests.migrations_testonly.steps import GATES_ENV, RUNS_TABLE, table_of
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import BotProcess, bot_env

TEMPLATES = Path(__file__).parent
REAL_HEAD_MARK = '"<real head>"'
COUNTER = ("count1", "count2", "count3")  # the counter scenario, oldest first


def real_head() -> str:
    return Revisions(alembic_config()).head()


def scenario(*names: str, into: Path) -> Path:
    """One directory in `into` with the revisions of the named scenarios, chained onto the real
    head (scenarios may build on each other: failing's revision follows the counter's)."""
    target = into / f"testonly-{'-'.join(names)}"
    target.mkdir()
    head = real_head()
    chained = 0
    for template in sorted(path for name in names for path in (TEMPLATES / name).glob("*.py")):
        text = template.read_text()
        chained += REAL_HEAD_MARK in text
        (target / template.name).write_text(text.replace(REAL_HEAD_MARK, repr(head)))
    if not chained:
        raise AssertionError(f"no revision of {names} has down_revision = {REAL_HEAD_MARK}")
    return target


class Gates:
    """The directory TESTONLY_GATES names; a step waits until `open()` creates its file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory

    @property
    def env(self) -> dict[str, str]:
        return {GATES_ENV: str(self.directory)}

    def open(self, *revisions: str) -> None:
        for revision in revisions:
            (self.directory / revision).touch()


def version(database: ThrowawayDatabase) -> list[str]:
    return [row[0] for row in fetch_all(database, "SELECT version_num FROM alembic_version")]


def table_names(database: ThrowawayDatabase) -> set[str]:
    if database.backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return {row[0] for row in fetch_all(database, sql)}


def runs(database: ThrowawayDatabase) -> list[str]:
    """Each test-only revision once per time it was applied, sorted."""
    if RUNS_TABLE not in table_names(database):
        return []
    return [row[0] for row in fetch_all(database, f"SELECT revision FROM {RUNS_TABLE}")]


def applied_prefix(database: ThrowawayDatabase, chain: Sequence[str]) -> tuple[str, ...]:
    """The revisions of `chain` the database records as applied, after checking that its
    schema and its run counter show exactly those, each applied once."""
    [current] = version(database)
    done = tuple(chain[: chain.index(current) + 1]) if current in chain else ()
    testonly = {name for name in table_names(database) if name.startswith("testonly_")}
    expected = {table_of(revision) for revision in done} | ({RUNS_TABLE} if done else set())
    assert testonly == expected, f"at {current}: tables {sorted(testonly)}"
    assert sorted(runs(database)) == sorted(done), f"at {current}: runs {runs(database)}"
    return done


@dataclass
class Migrating:
    """A `--migrate-only` instance of a release with the counter revisions, holding the
    migration lock while it waits at count1's gate."""

    process: BotProcess
    gates: Gates
    versions: Path

    def env(self, database: ThrowawayDatabase, **settings: str) -> dict[str, str]:
        """Settings for another instance of the same release (no gates)."""
        return bot_env(database, EXTRA_MIGRATION_DIRS=str(self.versions), **settings)

    def finish(self, database: ThrowawayDatabase) -> None:
        """Let it go on to head; it must exit 0 having applied each revision once."""
        self.gates.open(*COUNTER)
        assert self.process.wait() == 0, self.process.output
        assert applied_prefix(database, COUNTER) == COUNTER


@contextmanager
def migrating(database: ThrowawayDatabase, tmp_path: Path) -> Iterator[Migrating]:
    versions = scenario("counter", into=tmp_path)
    gates = Gates(tmp_path / "gates")
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions), **gates.env)
    with BotProcess(["--migrate-only"], env, tmp_path) as process:
        process.wait_for_output(at_gate(COUNTER[0]))
        yield Migrating(process, gates, versions)


def at_gate(revision: str) -> str:
    """What a step prints when it stops at its gate."""
    return f"testonly: {revision} waiting at its gate"
