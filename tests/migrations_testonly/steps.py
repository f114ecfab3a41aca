"""What the test-only revisions do, in one place; alembic imports it as it runs them.

Every step leaves a table named after its revision and one row in `testonly_runs`, so a test can
tell which revisions ran, how often, and whether the schema matches the recorded revision.
With TESTONLY_GATES set to a directory, a step then stops at its gate, the file named after the
revision there, until the test creates it: tests synchronise on that, never on sleeps.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

RUNS_TABLE = "testonly_runs"
GATES_ENV = "TESTONLY_GATES"
_GATE_PATIENCE = 120.0


def table_of(revision: str) -> str:
    return f"testonly_{revision}"


def create_runs_table() -> None:
    op.create_table(
        RUNS_TABLE,
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
    )


def step(revision: str) -> None:
    op.create_table(table_of(revision), sa.Column("id", sa.Integer(), primary_key=True))
    op.execute(
        sa.text(f"INSERT INTO {RUNS_TABLE} (revision, pid) VALUES (:revision, :pid)").bindparams(
            revision=revision, pid=os.getpid()
        )
    )
    _wait_at_gate(revision)


def undo(revision: str) -> None:
    op.drop_table(table_of(revision))
    op.execute(
        sa.text(f"DELETE FROM {RUNS_TABLE} WHERE revision = :revision").bindparams(
            revision=revision
        )
    )


def _wait_at_gate(revision: str) -> None:
    gates = os.environ.get(GATES_ENV)
    if not gates or op.get_context().as_sql:  # the guard's plan renders it offline first
        return
    gate = Path(gates) / revision
    print(f"testonly: {revision} waiting at its gate", flush=True)  # see scenarios.at_gate
    deadline = time.monotonic() + _GATE_PATIENCE
    while not gate.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"nobody opened the gate {gate}")
        time.sleep(0.02)


def drop_runs_table() -> None:
    op.drop_table(RUNS_TABLE)
