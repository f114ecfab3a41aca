"""`python main.py --plan`: the pending revisions and what each statement would do to the live
database, printed; exit 4 (`PlanBlocksError`) when one would block writes on a table above
MIGRATION_GUARD_ROWS, whatever MIGRATION_GUARD says (a release step may gate on it). Reads
only: no lock, nothing written, so it may run against a replica."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import SchemaError
from bot.migration.connect import connect, describe
from bot.migration.failures import one_line_errors
from bot.migration.guard import refusal, report_unplanned
from bot.migration.lint import LintError, squawk_findings
from bot.migration.plan import Plan, make_plan
from bot.migration.revisions import Revisions, alembic_config
from bot.migration.runner import MigrationOptions, status

_COLUMNS = f"  {'writes':<6}  {'lock':<22}  {'table':<24}  {'size':<26}  statement"


def _linter_lines(plan: Plan) -> list[str]:
    """squawk's findings in the pending revisions' SQL, a line each. squawk is a development
    tool (requirements-dev.txt): where it is not installed, one line says so."""
    sql = {revision.revision: "\n".join(revision.statements) for revision in plan.revisions}
    try:
        found = squawk_findings(sql)
    except LintError as error:
        return [f"linter: {error}; its findings are not shown"]
    findings = [(revision, f) for revision, listed in found.items() for f in listed]
    return [f"linter (squawk): {len(findings)} finding(s) in the pending revisions"] + [
        f"squawk: {revision}: {finding.rule}: {finding.statement}" for revision, finding in findings
    ]


class PlanBlocksError(SchemaError):
    """Exit 4: the plan has a statement that would block writes on a big table."""


async def show_plan(
    engine: AsyncEngine, options: MigrationOptions, write: Callable[[str], object] = print
) -> None:
    """Write the plan of the pending revisions; raise PlanBlocksError when one would block."""
    schema = await status(engine, options)
    rows = options.guard_rows
    write(f"{describe(engine)}: {schema.describe()}, {len(schema.pending)} revision(s) pending")
    if not schema.pending:
        return
    revisions = Revisions(alembic_config(options.extra_version_locations))
    async with connect(engine, deadline=options.connect_timeout) as conn, one_line_errors():
        plan = await make_plan(conn, revisions, schema.current, rows=rows, every_table=True)
    report_unplanned(plan)
    write(f"writes: BLOCKS above MIGRATION_GUARD_ROWS={rows:,} rows, blocks below it, - never")
    write(_COLUMNS)
    for line in plan.lines(rows, revisions.descriptions(schema.pending)):
        write(line)
    for line in _linter_lines(plan):
        write(line)
    over = plan.over(rows)
    if over:
        raise PlanBlocksError(refusal(over, rows))
    write(f"nothing pending blocks writes on a table above {rows:,} rows")
