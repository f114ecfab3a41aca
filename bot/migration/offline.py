"""The SQL that pending revisions would run on PostgreSQL, statement by statement and revision
by revision: alembic's offline (`--sql`) mode, in-process, touching no database.

The revisions run as alembic runs them for `alembic upgrade <current>:head --sql` (the same
steps, in the same order), with the PostgreSQL dialect whatever the database: on SQLite the
statements still say which tables a batch operation alters. A revision that cannot render
offline (it reads the database through `op.get_bind()`) is reported with its error, and the
revisions after it are rendered from there on.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import alembic.context
import alembic.op
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationInfo, RevisionStep

from bot.migration.revisions import VERSION_TABLE, Revisions

_BOOKKEEPING = ("BEGIN;", "COMMIT;", "--")


@dataclass(frozen=True)
class RevisionSQL:
    revision: str
    statements: tuple[str, ...]
    error: str | None = None  # why the revision could not be rendered offline


class _Recorder(io.StringIO):
    """alembic's output buffer: it writes each statement in one call; each revision's own
    are handed over as alembic reports the revision done."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[str] = []
        self.done: list[RevisionSQL] = []

    def write(self, text: str) -> int:
        statement = text.strip()
        if statement and not statement.startswith(_BOOKKEEPING):
            self.statements.append(statement)
        return len(text)

    def revision_done(self, *, step: MigrationInfo, **_: Any) -> None:
        self.done.append(RevisionSQL(step.up_revision_id or "?", tuple(self.statements)))
        self.statements = []


def render(
    revisions: Revisions, current: Sequence[str], destination: str = "head"
) -> list[RevisionSQL]:
    """Each revision an upgrade from `current` to `destination` would apply, oldest first,
    with the statements it would run on PostgreSQL."""
    # The steps alembic's own `upgrade` command would take (its private API: alembic is pinned).
    heads: Any = tuple(current)  # alembic types it as one revision, and takes several
    steps: list[RevisionStep] = list(revisions.script._upgrade_revs(destination, heads))
    start = tuple(current)
    rendered: list[RevisionSQL] = []
    with _aside():
        while steps:
            recorder = _Recorder()
            try:
                _run(revisions, start, steps, recorder)
            except Exception as error:  # a revision's script may raise anything
                failed = steps[len(recorder.done)].revision.revision
                message = " ".join(str(error).split()) or "no message"
                rendered += [
                    *recorder.done,
                    RevisionSQL(failed, (), f"{type(error).__name__}: {message}"),
                ]
                start, steps = (failed,), steps[len(recorder.done) + 1 :]
            else:
                rendered += recorder.done
                break
    return rendered


def _run(
    revisions: Revisions, start: tuple[str, ...], steps: list[RevisionStep], recorder: _Recorder
) -> None:
    environment = EnvironmentContext(
        revisions.config,
        revisions.script,
        fn=lambda _heads, _context: steps,
        as_sql=True,
        starting_rev=list(start) or None,
    )
    # alembic types its on_version_apply callbacks as positional, but calls them by keyword.
    callback: Any = recorder.revision_done
    with environment:  # the `alembic.context` the scripts import
        environment.configure(
            dialect_name="postgresql",
            output_buffer=recorder,
            literal_binds=True,
            version_table=VERSION_TABLE,
            transactional_ddl=True,
            transaction_per_migration=True,
            on_version_apply=callback,
        )
        with environment.begin_transaction():
            environment.run_migrations()


@contextmanager
def _aside() -> Iterator[None]:
    """No `Running upgrade ...` lines from alembic while nothing runs; and the `context` and
    `op` that alembic's CLI may have installed around us (the guard of `alembic upgrade`) are
    installed again afterwards: alembic removes them as our rendering ends."""
    chatty = logging.getLogger("alembic.runtime.migration")
    level = chatty.level
    outer = [getattr(module, "_proxy", None) for module in (alembic.context, alembic.op)]
    chatty.setLevel(logging.WARNING)
    try:
        yield
    finally:
        chatty.setLevel(level)
        for proxy in outer:
            if proxy is not None:
                proxy._install_proxy()
