"""The guard at start: under the migration lock, before the first pending revision runs, the
plan of the pending revisions is made; a statement that would block writes on a table above
MIGRATION_GUARD_ROWS rows stops the start with one line and nothing applied (`refuse`, the
default), or is logged and applied (`warn`); `off` makes no plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import SchemaError
from bot.migration.plan import Plan, Step, make_plan
from bot.migration.revisions import Revisions

PLAN_COMMAND = "python main.py --plan"
_SHOWN_SQL = 90


class GuardRefusedError(SchemaError):
    """Exit 4: a pending revision would block writes on a big table for long."""


def blocking_line(step: Step, rows: int) -> str:
    """What a statement over the threshold would do, for a line of its own."""
    size = step.size.describe() if step.size is not None else "size unknown"
    return (
        f"revision {step.revision} would block writes on {step.table} ({size}, above "
        f"MIGRATION_GUARD_ROWS={rows}) for the whole of `{step.statement(_SHOWN_SQL)}`: it "
        f"{step.why}"
    )


def refusal(over: Sequence[Step], rows: int) -> str:
    """The one line that stops a start (or fails `--plan`)."""
    more = f" (and {len(over) - 1} more such statement(s))" if len(over) > 1 else ""
    return (
        f"{blocking_line(over[0], rows)}{more}; nothing was applied. See the plan with "
        f'`{PLAN_COMMAND}`, write the revision the safe way (README, "Migrations": an index '
        "CONCURRENTLY, a constraint NOT VALID then VALIDATE), or set MIGRATION_GUARD=warn for "
        "this deploy"
    )


def report_unplanned(plan: Plan) -> None:
    for revision in plan.revisions:
        if revision.error is not None:
            logger.warning(
                "revision {} cannot be planned (offline SQL cannot run it: {}); the migration "
                "guard cannot judge it",
                revision.revision,
                revision.error,
            )


async def guard(
    conn: AsyncConnection,
    revisions: Revisions,
    current: Sequence[str],
    mode: Literal["refuse", "warn", "off"],
    rows: int,
    destination: str = "head",
) -> None:
    """Raise GuardRefusedError (refuse) or log (warn) when an upgrade from `current` to
    `destination` would block writes on a table above `rows` rows."""
    if mode == "off" or not current:  # a database with no revision has no table to block
        return
    plan = await make_plan(conn, revisions, current, rows=rows, destination=destination)
    report_unplanned(plan)
    over = plan.over(rows)
    if not over:
        return
    if mode == "refuse":
        raise GuardRefusedError(refusal(over, rows))
    for step in over:
        logger.warning(
            "{}; applying it anyway because MIGRATION_GUARD=warn (`{}` shows the plan)",
            blocking_line(step, rows),
            PLAN_COMMAND,
        )
