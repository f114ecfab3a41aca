"""The revision lint: squawk on each revision's offline PostgreSQL SQL. The released revisions
pass (their findings accepted, each with a reason, and none accepted that no longer occurs); a
new revision with a finding fails unless it exempts the rule with a reason; alembic's
post-write hook shows a new revision's findings and never stops it being written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.migration import lint as lint_module
from bot.migration.lint import ACCEPTED, Exemption, LintError, exemptions, lint
from bot.migration.revisions import PROJECT_ROOT
from tests.migrations_testonly.scenarios import real_head, scenario
from tests.support.databases import ThrowawayDatabase, execute
from tests.support.processes import clean_env, run_alembic, write_alembic_ini

RULE = "require-concurrent-index-creation"
VERSIONS = PROJECT_ROOT / "migrations" / "versions"
RELEASED = next(VERSIONS.glob("*-489ffa93607c_*.py")).relative_to(PROJECT_ROOT)
SCRATCH = '''"""scratch: a new revision"""

import sqlalchemy as sa
from alembic import op

revision = "5c7a7c4a11e0"
down_revision = {head!r}
{exemption}

def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    pass
'''
# An index on purchases, a table a live shop fills.
NEW_INDEX = 'op.create_index("ix_purchases_currency", "purchases", ["currency"])'


def _scratch(tmp_path: Path, exemption: str = "", upgrade: str = NEW_INDEX) -> Path:
    """A versions directory with one new revision on the real head; its file."""
    versions = tmp_path / "versions"
    versions.mkdir()
    path = versions / "5c7a7c4a11e0_scratch.py"
    path.write_text(SCRATCH.format(head=real_head(), exemption=exemption, upgrade=upgrade))
    return path


def test_every_revision_passes_the_lint() -> None:
    problems = lint()
    assert problems == [], "\n".join(problems)


def test_released_findings_are_found_in_their_revision_and_only_accepted(tmp_path: Path) -> None:
    nothing_accepted = tmp_path / "accepted.toml"
    nothing_accepted.write_text("")

    problems = lint(accepted=nothing_accepted)

    assert [problem.split("\n")[0] for problem in problems] == [
        f"{RELEASED}: {RULE}: CREATE UNIQUE INDEX ix_products_form_token ON products (form_token);",
        f"{RELEASED}: {RULE}: CREATE UNIQUE INDEX uq_categories_lower_name ON categories "
        "(lower(name));",
    ]


def test_a_new_index_on_an_existing_table_fails_saying_how_to_fix_or_exempt(
    tmp_path: Path,
) -> None:
    path = _scratch(tmp_path)

    [problem] = lint((path.parent,))

    assert problem.startswith(
        f"{path}: {RULE}: CREATE INDEX ix_purchases_currency ON purchases (currency);\n"
    )
    assert "table updates are blocked" in problem  # squawk's own words
    assert f"https://squawkhq.com/docs/{RULE}" in problem
    assert f"`# squawk: allow {RULE} -- why it is safe here`" in problem


def test_a_finding_names_the_whole_statement_it_is_in(tmp_path: Path) -> None:
    columns = ", ".join(f'sa.Column("c{n}", sa.Text())' for n in range(30))
    path = _scratch(
        tmp_path, upgrade=f'op.create_table("scratch", sa.Column("code", sa.CHAR(3)), {columns})'
    )

    [problem] = lint((path.parent,))

    statement = problem.split("\n")[0].removeprefix(f"{path}: ban-char-field: ")
    assert statement.startswith("CREATE TABLE scratch ( code CHAR(3), c0 TEXT, c1 TEXT, ")
    assert statement.endswith("…")  # a long one is cut short
    assert len(statement) == 200


@pytest.mark.parametrize(
    "exemption",
    [
        f"# squawk: allow {RULE} -- purchases is tiny in every shop so far",
        f"# squawk: allow {RULE} --\n#   purchases is tiny\n#   in every shop so far",
    ],
)
def test_an_exemption_with_a_reason_lets_it_pass(tmp_path: Path, exemption: str) -> None:
    path = _scratch(tmp_path, exemption)

    assert lint((path.parent,)) == []
    [declared] = exemptions(path)[0]
    assert declared == Exemption((RULE,), "purchases is tiny in every shop so far", 8)


def test_an_exemption_that_exempts_nothing_fails(tmp_path: Path) -> None:
    path = _scratch(tmp_path, f"# squawk: allow ban-drop-column, {RULE} -- a drop comes later")

    assert lint((path.parent,)) == [
        f"{path}:8: exempts ban-drop-column, but squawk finds no ban-drop-column in this "
        "revision: remove it from the exemption"
    ]


@pytest.mark.parametrize(
    "exemption",
    [
        f"# squawk: allow {RULE}\n# a comment below it is no reason without --",
        f"# squawk: allow {RULE} -- ",
    ],
)
def test_an_exemption_without_a_reason_fails(tmp_path: Path, exemption: str) -> None:
    path = _scratch(tmp_path, exemption)

    problems = lint((path.parent,))

    assert problems[0] == (
        f"{path}:8: the exemption of {RULE} gives no reason: "
        "write `# squawk: allow RULE -- why it is safe here`"
    )
    assert problems[1].startswith(f"{path}: {RULE}: CREATE INDEX ix_purchases_currency")
    assert len(problems) == 2


def test_a_squawk_comment_that_is_no_exemption_fails(tmp_path: Path) -> None:
    path = _scratch(tmp_path, f"# squawk: alow {RULE} -- a typo")

    problems = lint((path.parent,))

    assert problems[0] == (
        f"{path}:8: cannot read '# squawk: alow {RULE} -- a typo': "
        "write `# squawk: allow RULE -- why it is safe here`"
    )
    assert problems[1].startswith(f"{path}: {RULE}: ")


def test_an_accepted_finding_that_no_longer_occurs_fails(tmp_path: Path) -> None:
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(
        ACCEPTED.read_text()
        + '[[accepted]]\nrevision = "e3a9c5d17b20"\nrule = "ban-drop-column"\nreason = "r"\n'
        + f'[[accepted]]\nrevision = "feedbeef"\nrule = "{RULE}"\nreason = "r"\n'
    )

    problems = lint(accepted=accepted)

    assert problems == [
        f"{accepted}: accepts ban-drop-column in e3a9c5d17b20, but squawk no longer finds it "
        "there: remove the entry",
        f"{accepted}: accepts {RULE} in feedbeef, a revision that does not exist: remove the entry",
    ]


def test_an_accepted_finding_needs_a_reason(tmp_path: Path) -> None:
    accepted = tmp_path / "accepted.toml"
    accepted.write_text(f'[[accepted]]\nrevision = "489ffa93607c"\nrule = "{RULE}"\n')

    with pytest.raises(LintError, match="every entry needs a revision, a rule and a reason"):
        lint(accepted=accepted)


def test_a_merge_revision_is_linted_on_its_own(tmp_path: Path) -> None:
    assert lint((scenario("heads", "merge", into=tmp_path),)) == []


def test_the_hook_says_when_a_revision_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_module.main([str(PROJECT_ROOT / RELEASED)]) == 0

    assert capsys.readouterr().out == f"squawk: {RELEASED} passes\n"


def test_the_hook_without_squawk_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scratch(tmp_path)
    monkeypatch.setattr(lint_module, "squawk_binary", lambda: None)

    assert lint_module.main([str(path)]) == 0

    assert capsys.readouterr().out == (
        f"squawk: {path} not linted: squawk is not installed: pip install -r requirements-dev.txt\n"
    )


def test_the_hook_never_fails_on_a_file_it_cannot_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = scenario("broken_syntax", into=tmp_path) / "syntax1.py"
    stray = tmp_path / "notes.txt"
    stray.write_text("")

    assert lint_module.main([str(broken), str(stray)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"squawk: {broken} not linted: the revision file {broken}:12 ")
    assert out[1] == f"squawk: {stray} not linted: {stray} is not a revision alembic knows"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_autogenerate_shows_the_new_revisions_findings(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    scratch = tmp_path / "versions"
    scratch.mkdir()
    ini = write_alembic_ini(tmp_path / "alembic.ini", scratch)
    env = clean_env(DATABASE_URL=database.url_string)
    assert run_alembic(["upgrade", "head"], env, ini=ini).returncode == 0
    # The models have an index the database lacks: autogenerate writes a plain CREATE INDEX.
    execute(database.url, "DROP INDEX ix_purchases_user_id")

    result = run_alembic(
        ["revision", "--autogenerate", "-m", "index back", "--version-path", str(scratch)],
        env,
        ini=ini,
    )

    assert result.returncode == 0, result.stderr
    [written] = scratch.glob("*_index_back.py")
    assert f"{written}: {RULE}: CREATE INDEX ix_purchases_user_id ON purchases (user_id);" in (
        result.stdout
    )
    assert f"# squawk: allow {RULE} -- why it is safe here" in result.stdout
    assert "Running upgrade" not in result.stdout + result.stderr  # no migration was run
