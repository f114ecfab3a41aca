"""A revision file that cannot load (a SyntaxError, an ImportError) or that raises as it upgrades
stops the real `python main.py --migrate-only` with exit 4 and one line naming the file and the
line, no traceback, and the database at its last good revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migrations_testonly.living_shop import open_shop
from tests.migrations_testonly.scenarios import (
    COUNTER,
    TEMPLATES,
    applied_prefix,
    real_head,
    scenario,
    version,
)
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import bot_env, run_main

BROKEN_LINE_MARK = "# testonly: the broken line"


def _broken_line(template: str) -> str:
    """`<file name>:<line>` of the template's line marked as the broken one."""
    path = TEMPLATES / template
    [number] = [
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if BROKEN_LINE_MARK in line
    ]
    return f"{path.name}:{number}"


def _one_error_line(database: ThrowawayDatabase, versions: Path, tmp_path: Path) -> str:
    """Run `--migrate-only` with `versions`; it must fail with exit 4 and one ERROR line."""
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions))
    result = run_main(["--migrate-only"], env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if "| ERROR" in line]
    return line


@pytest.mark.parametrize(
    ("template", "error"),
    [("broken_syntax/syntax1.py", "SyntaxError"), ("broken_import/import1.py", "ImportError")],
)
def test_a_revision_file_that_cannot_load_is_named_in_one_line(
    database: ThrowawayDatabase, tmp_path: Path, template: str, error: str
) -> None:
    open_shop(database)
    versions = scenario(Path(template).parent.name, into=tmp_path)

    line = _one_error_line(database, versions, tmp_path)

    assert _broken_line(template) in line
    assert error in line
    assert version(database) == [real_head()]


def test_a_revision_that_raises_is_named_with_its_line_and_rolled_back(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    versions = scenario("counter", "raising", into=tmp_path)

    line = _one_error_line(database, versions, tmp_path)

    assert "revision raise4 (" in line
    assert f"{_broken_line('raising/raise4.py')}) failed and was rolled back" in line
    assert "ZeroDivisionError" in line
    assert version(database) == [COUNTER[-1]]
    assert applied_prefix(database, COUNTER) == COUNTER  # raise4's table and run are gone


def test_at_debug_the_traceback_of_a_raising_revision_is_logged(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    versions = scenario("counter", "raising", into=tmp_path)
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(versions), LOG_LEVEL="DEBUG")

    result = run_main(["--migrate-only"], env, tmp_path)

    assert result.returncode == 4, result.stderr
    assert "the failure in full, for the revision's author" in result.stderr
    assert "Traceback" in result.stderr
    assert "ZeroDivisionError" in result.stderr
