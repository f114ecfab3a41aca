"""squawk on the revisions: the offline PostgreSQL SQL of each revision on its own, linted
against the project's `.squawk.toml`, so every finding names its revision.

A finding stands unless the revision exempts its rule with a reason, in a comment of its own
(`# squawk: allow RULE[, RULE] -- why it is safe here`, the reason may go on over the comment
lines below it), or `migrations/lint-accepted.toml` accepts it for a revision already
released. An exemption without a reason, one that exempts nothing, and an accepted finding
that no longer occurs stand too, so neither list goes stale. The test suite lints every
revision; alembic's post-write hook (`python -m bot.migration.lint FILE`) shows a new
revision's findings right after it is written, and never fails the generation.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory

from bot.migration.failures import script_error
from bot.migration.revisions import PROJECT_ROOT, alembic_config

SQUAWK_CONFIG = PROJECT_ROOT / ".squawk.toml"
ACCEPTED = PROJECT_ROOT / "migrations" / "lint-accepted.toml"
# Offline SQL never connects: any PostgreSQL URL gives PostgreSQL's SQL.
_OFFLINE_URL = "postgresql://lint@localhost/lint"
_MARK = "# squawk:"
_EXEMPTION = re.compile(
    r"# squawk: allow (?P<rules>[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)(?:\s+--(?P<reason>.*))?$"
)
_LONGEST = 200  # characters of a statement a finding shows
_HOW = "write `# squawk: allow RULE -- why it is safe here`"


class LintError(Exception):
    """The lint could not run (no squawk, a revision without offline SQL): one line."""


@dataclass(frozen=True)
class Finding:
    """One squawk finding in a revision's SQL."""

    rule: str
    message: str
    statement: str


@dataclass(frozen=True)
class Exemption:
    """`# squawk: allow ...` in a revision file."""

    rules: tuple[str, ...]
    reason: str
    line: int


def lint(
    extra_version_locations: Sequence[Path] = (),
    *,
    only: Path | None = None,
    accepted: Path = ACCEPTED,
) -> list[str]:
    """What stands in the way, a message each, for every revision (or the one in `only`)."""
    config = alembic_config(extra_version_locations)
    config.set_main_option("sqlalchemy.url", _OFFLINE_URL)
    script = ScriptDirectory.from_config(config)
    try:
        revisions = [r for r in script.walk_revisions() if only is None or _same(r.path, only)]
    except Exception as error:  # a revision file that cannot be imported: one line
        broken = script_error(error)
        if broken is None:
            raise
        raise LintError(str(broken)) from None
    if only is not None and not revisions:
        raise LintError(f"{_shown(only)} is not a revision alembic knows")
    found = squawk_findings({r.revision: revision_sql(config, script, r) for r in revisions})
    taken = _accepted(accepted)
    problems: list[str] = []
    for revision in reversed(revisions):  # oldest first
        findings = found[revision.revision]
        accepted_rules = {rule for rev, rule in taken if rev == revision.revision}
        problems += _judged(Path(revision.path), findings, accepted_rules)
        problems += [
            f"{_shown(accepted)}: accepts {rule} in {revision.revision}, but squawk no longer "
            "finds it there: remove the entry"
            for rule in sorted(accepted_rules - {finding.rule for finding in findings})
        ]
    if only is None:
        known = {revision.revision for revision in revisions}
        problems += [
            f"{_shown(accepted)}: accepts {rule} in {rev}, a revision that does not exist: "
            "remove the entry"
            for rev, rule in taken
            if rev not in known
        ]
    return problems


def _judged(path: Path, findings: list[Finding], accepted_rules: set[str]) -> list[str]:
    """A revision's findings against the exemptions in its file and the rules accepted for it."""
    allowed, problems = exemptions(path)
    fired = {finding.rule for finding in findings}
    excused = set(accepted_rules)
    for exemption in allowed:
        if exemption.reason:
            excused.update(exemption.rules)
        else:
            problems.append(
                f"{_shown(path)}:{exemption.line}: the exemption of "
                f"{', '.join(exemption.rules)} gives no reason: {_HOW}"
            )
        problems += [
            f"{_shown(path)}:{exemption.line}: exempts {rule}, but squawk finds no {rule} in "
            "this revision: remove it from the exemption"
            for rule in exemption.rules
            if rule not in fired
        ]
    for finding in findings:
        if finding.rule not in excused:
            problems.append(
                f"{_shown(path)}: {finding.rule}: {finding.statement}\n"
                f"    squawk: {finding.message}\n"
                f"    write it the safe way (README, Migrations; "
                f"https://squawkhq.com/docs/{finding.rule}), or exempt it in the revision: "
                f"`# squawk: allow {finding.rule} -- why it is safe here`"
            )
    return problems


def revision_sql(config: Config, script: ScriptDirectory, revision: Script) -> str:
    """What `alembic upgrade <down_revision>:<revision> --sql` prints, through our env.py."""
    down = revision.down_revision
    start = "base" if down is None else [down] if isinstance(down, str) else list(down)
    buffer = io.StringIO()
    config.output_buffer = buffer
    try:
        with (
            _alembic_quiet(),
            EnvironmentContext(
                config,
                script,
                fn=lambda current, _context: script._upgrade_revs(revision.revision, current),
                as_sql=True,
                starting_rev=start,
                destination_rev=revision.revision,
            ),
        ):
            script.run_env()
    except Exception as error:  # env.py's one-line CommandError, a revision that needs a database
        raise LintError(f"no offline SQL for {_shown(Path(revision.path))}: {error}") from None
    finally:
        config.output_buffer = None
    return buffer.getvalue()


def exemptions(path: Path) -> tuple[list[Exemption], list[str]]:
    """The exemptions a revision file declares, and a message for each `# squawk:` comment
    that is not one."""
    found: list[Exemption] = []
    unreadable: list[str] = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.startswith(_MARK):
            continue
        match = _EXEMPTION.match(line.rstrip())
        if match is None:
            unreadable.append(f"{_shown(path)}:{number}: cannot read {line.strip()!r}: {_HOW}")
            continue
        rules = tuple(rule.strip() for rule in match["rules"].split(","))
        reason = [] if match["reason"] is None else [match["reason"]]
        for more in lines[number:] if reason else []:  # the reason goes on below it
            if not more.startswith("#") or more.startswith(_MARK):
                break
            reason.append(more[1:])
        found.append(Exemption(rules, " ".join(" ".join(reason).split()), number))
    return found, unreadable


def squawk_binary() -> Path | None:
    """squawk as requirements-dev.txt installs it (beside this Python), else on PATH."""
    beside = Path(sys.executable).with_name("squawk")
    if beside.is_file():
        return beside
    found = shutil.which("squawk")
    return Path(found) if found else None


def squawk_findings(sql: dict[str, str]) -> dict[str, list[Finding]]:
    """squawk's findings in each revision's SQL, in one run of squawk."""
    if not sql:  # squawk given no file would read its standard input
        return {}
    binary = squawk_binary()
    if binary is None:
        raise LintError("squawk is not installed: pip install -r requirements-dev.txt")
    with tempfile.TemporaryDirectory(prefix="shopbot-lint-") as directory:
        files = {}
        for revision, text in sql.items():
            files[revision] = Path(directory, f"{revision}.sql")
            files[revision].write_text(text)
        command = [str(binary), "--config", str(SQUAWK_CONFIG), "--reporter", "json"]
        run = subprocess.run(
            [*command, *map(str, files.values())], capture_output=True, text=True, check=False
        )
    try:
        reported: list[dict[str, Any]] = json.loads(run.stdout)
    except json.JSONDecodeError:
        said = (run.stderr or run.stdout).strip().splitlines() or [f"exit code {run.returncode}"]
        raise LintError(f"squawk failed: {said[0]}") from None
    found: dict[str, list[Finding]] = {revision: [] for revision in sql}
    for item in reported:
        revision = Path(item["file"]).stem
        statement = _statement_at(sql[revision], int(item["line"]))
        message = " ".join(part for part in (item["message"], item.get("help")) if part)
        found[revision].append(Finding(item["rule_name"], message, statement))
    return found


def _statement_at(sql: str, line: int) -> str:
    """The statement of alembic's offline SQL that squawk's `line` (counted from 0) is in,
    on one line, its start only if it is long (a CREATE TABLE)."""
    lines = sql.splitlines()
    first = line
    while first > 0 and not lines[first - 1].rstrip().endswith(";") and lines[first - 1].strip():
        first -= 1
    last = line
    while last < len(lines) - 1 and not lines[last].rstrip().endswith(";"):
        last += 1
    statement = " ".join(" ".join(lines[first : last + 1]).split())
    return statement if len(statement) <= _LONGEST else f"{statement[: _LONGEST - 1]}…"


def _accepted(path: Path) -> list[tuple[str, str]]:
    """The (revision, rule) pairs `path` accepts; each entry must give its reason."""
    try:
        entries = tomllib.loads(path.read_text()).get("accepted", [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LintError(f"cannot read {_shown(path)}: {error}") from None
    pairs = []
    for entry in entries:
        if not all(str(entry.get(key, "")).strip() for key in ("revision", "rule", "reason")):
            raise LintError(f"{_shown(path)}: every entry needs a revision, a rule and a reason")
        pairs.append((entry["revision"], entry["rule"]))
    return pairs


@contextmanager
def _alembic_quiet() -> Iterator[None]:
    """No "Running upgrade ..." lines: producing offline SQL is not a migration run."""
    chatter = logging.getLogger("alembic.runtime.migration")
    level = chatter.level
    chatter.setLevel(logging.WARNING)
    try:
        yield
    finally:
        chatter.setLevel(level)


def _same(path: str, other: Path) -> bool:
    return Path(path).resolve() == other.resolve()


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(
        resolved.relative_to(PROJECT_ROOT) if resolved.is_relative_to(PROJECT_ROOT) else path
    )


def main(argv: Sequence[str] | None = None) -> int:
    """alembic's post-write hook: show the new revision's findings. Exits 0 whatever it finds
    or fails on: a revision is written all the same, and the tests hold the line."""
    for name in sys.argv[1:] if argv is None else argv:
        path = Path(name)
        try:
            extra = () if path.resolve().parent == _project_versions() else (path.parent,)
            problems = lint(extra, only=path)
        except LintError as error:
            print(f"squawk: {_shown(path)} not linted: {error}")
            continue
        except Exception as error:  # a hook must never stop the revision being written
            print(f"squawk: {_shown(path)} not linted: {type(error).__name__}: {error}")
            continue
        print("\n".join(problems) if problems else f"squawk: {_shown(path)} passes")
    return 0


def _project_versions() -> Path:
    return (PROJECT_ROOT / "migrations" / "versions").resolve()


if __name__ == "__main__":
    sys.exit(main())
