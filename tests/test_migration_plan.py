"""The plan of pending revisions: the classifier on a table of statements (no database), the
offline rendering of revisions, and `python main.py --plan` on PostgreSQL with a table big
enough to cross a low MIGRATION_GUARD_ROWS, on a read-only database, changing nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine
from bot.migration import MigrationOptions, lint
from bot.migration.offline import render
from bot.migration.preview import PlanBlocksError, show_plan
from bot.migration.revisions import Revisions, alembic_config
from bot.migration.statements import (
    ACCESS_EXCLUSIVE,
    ROW_EXCLUSIVE,
    SHARE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    Classifier,
    not_null_column,
)
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario, version
from tests.support.databases import ThrowawayDatabase, execute, fetch_all
from tests.support.processes import clean_env, run_main

INDEX = "ix_purchases_testonly_amount"  # what plain_index and concurrent_index build
PURCHASES = 5000
THRESHOLD = 1000

# The lock modes, short, for the table below.
AE, S, SRE, SUE, RE = (
    ACCESS_EXCLUSIVE,
    SHARE,
    SHARE_ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    ROW_EXCLUSIVE,
)
# (statement, table, lock, blocks writes for the length of the table)
STATEMENTS = [
    ("CREATE INDEX ix_a ON t (user_id)", "t", S, True),
    ("CREATE UNIQUE INDEX ix_a ON t (charge_id);", "t", S, True),
    ("CREATE INDEX ix_a ON t USING btree (lower(x))", "t", S, True),
    ("CREATE INDEX CONCURRENTLY ix_a ON t (user_id)", "t", SUE, False),
    ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON public.t (x)", "public.t", SUE, False),
    ("REINDEX TABLE t", "t", S, True),
    ("REINDEX TABLE CONCURRENTLY t", "t", SUE, False),
    ("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY(p) REFERENCES o (id)", "t", SRE, True),
    ("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY(p) REFERENCES o (id) NOT VALID", "t", SRE, False),
    ("ALTER TABLE t VALIDATE CONSTRAINT fk", "t", SUE, False),
    ("ALTER TABLE t ADD CONSTRAINT ck_amount CHECK (amount > 0)", "t", AE, True),
    ("ALTER TABLE t ADD CONSTRAINT ck_amount CHECK (amount > 0) NOT VALID", "t", AE, False),
    ("ALTER TABLE t ADD CONSTRAINT uq_c UNIQUE (charge_id)", "t", AE, True),
    ("ALTER TABLE t ADD CONSTRAINT uq_c UNIQUE USING INDEX ix_c", "t", AE, False),
    ("ALTER TABLE t ADD PRIMARY KEY (id)", "t", AE, True),
    ("ALTER TABLE t ALTER COLUMN amount TYPE NUMERIC(12, 2)", "t", AE, True),
    ("ALTER TABLE t ALTER COLUMN amount SET DATA TYPE BIGINT USING amount::bigint", "t", AE, True),
    ("ALTER TABLE t ALTER COLUMN currency SET NOT NULL", "t", AE, True),
    ("ALTER TABLE t ALTER COLUMN currency DROP NOT NULL", "t", AE, False),
    ("ALTER TABLE t ALTER COLUMN currency SET DEFAULT 'XTR'", "t", AE, False),
    ("ALTER TABLE t ADD COLUMN note TEXT", "t", AE, False),
    ("ALTER TABLE t ADD COLUMN state VARCHAR(16) DEFAULT 'paid' NOT NULL", "t", AE, False),
    ("ALTER TABLE t ADD COLUMN seen_at TIMESTAMP WITH TIME ZONE DEFAULT now()", "t", AE, False),
    ("ALTER TABLE t ADD COLUMN token UUID DEFAULT gen_random_uuid() NOT NULL", "t", AE, True),
    ("ALTER TABLE t ADD COLUMN seq BIGSERIAL", "t", AE, True),
    ("ALTER TABLE t ADD COLUMN n INTEGER GENERATED ALWAYS AS IDENTITY", "t", AE, True),
    ("ALTER TABLE t ADD COLUMN promo_id INTEGER REFERENCES o (id)", "t", SRE, True),
    ("ALTER TABLE t ADD COLUMN a TEXT, ADD COLUMN b INTEGER DEFAULT random()", "t", AE, True),
    ("ALTER TABLE t DROP COLUMN note", "t", AE, False),
    ("ALTER TABLE t RENAME provider TO gateway", "t", AE, False),
    ("ALTER TABLE t RENAME TO sales", "t", AE, False),
    ("ALTER TABLE t SET TABLESPACE fast", "t", AE, True),
    ("ALTER TABLE t SET (fillfactor = 90)", "t", SUE, False),
    ('ALTER TABLE "T" ALTER COLUMN "Amount" TYPE BIGINT', '"T"', AE, True),
    ("CREATE TABLE o (id SERIAL NOT NULL, CONSTRAINT pk PRIMARY KEY (id))", "o", None, False),
    ("CREATE TABLE o (p INTEGER, FOREIGN KEY(p) REFERENCES t (id))", "o", SRE, False),
    ("DROP TABLE o", "o", AE, False),
    ("TRUNCATE outbox", "outbox", AE, False),
    ("VACUUM FULL t", "t", AE, True),
    ("VACUUM (FULL, ANALYZE) t", "t", AE, True),
    ("VACUUM ANALYZE t", "t", SUE, False),
    ("CLUSTER t USING pk_t", "t", AE, True),
    ("UPDATE t SET currency='XTR'", "t", RE, True),
    ("UPDATE t SET currency='XTR' WHERE t.currency IS NULL", "t", RE, False),
    ("UPDATE categories SET name=(SELECT x FROM y WHERE z) ", "categories", RE, True),
    ("DELETE FROM outbox", "outbox", RE, True),
    ("DELETE FROM outbox WHERE state = 'sent'", "outbox", RE, False),
    ("INSERT INTO categories (name) SELECT name FROM products", "categories", RE, False),
    ("LOCK TABLE t IN SHARE MODE", "t", S, False),
    ("CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "t", SRE, False),
    ("DROP INDEX ix_a", None, AE, False),
    ("DROP INDEX CONCURRENTLY IF EXISTS ix_a", None, SUE, False),
    ("-- a comment\nCREATE INDEX ix_a ON t (user_id) /* inline */", "t", S, True),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "table", "lock", "blocks"), STATEMENTS)
def test_each_statement_is_named_its_table_lock_and_whether_it_blocks_writes(
    sql: str, table: str | None, lock: str | None, blocks: bool
) -> None:
    effect = Classifier().classify(sql)

    assert effect is not None
    assert (effect.table, effect.lock, effect.blocks_writes) == (table, lock, blocks)
    assert bool(effect.why) == blocks


@pytest.mark.parametrize("sql", ["BEGIN;", "COMMIT;", "-- Running upgrade a -> b", ""])
def test_bookkeeping_touches_no_table(sql: str) -> None:
    assert Classifier().classify(sql) is None


def test_the_foreign_key_locks_the_referenced_table_as_long() -> None:
    sql = "ALTER TABLE purchases ADD CONSTRAINT fk FOREIGN KEY(p) REFERENCES promo_codes (id)"
    effect = Classifier().classify(sql)

    assert effect is not None
    assert effect.others == ("promo_codes",)


def test_set_not_null_after_a_validated_not_null_check_is_no_scan() -> None:
    """The recipe: CHECK (col IS NOT NULL) NOT VALID, VALIDATE, then SET NOT NULL (which finds
    the check and scans nothing); a check on another column does not count."""
    classifier = Classifier()
    steps = [
        "ALTER TABLE users ADD CONSTRAINT ck_lang CHECK (language IS NOT NULL) NOT VALID",
        "ALTER TABLE users ADD CONSTRAINT ck_name CHECK ((username IS NOT NULL)) NOT VALID",
        "ALTER TABLE users VALIDATE CONSTRAINT ck_lang",
        "ALTER TABLE users ALTER COLUMN language SET NOT NULL",
        "ALTER TABLE users ALTER COLUMN username SET NOT NULL",
    ]
    effects = [classifier.classify(sql) for sql in steps]

    assert [effect.blocks_writes for effect in effects if effect] == [
        False,
        False,
        False,
        False,
        True,
    ]
    known = Classifier(validated={("users", "username")}).classify(steps[-1])
    assert known is not None
    assert not known.blocks_writes


@pytest.mark.parametrize(
    ("definition", "column"),
    [
        ("CHECK ((language IS NOT NULL))", "language"),
        ('CHECK (("Language" IS NOT NULL))', '"Language"'),
        ("CHECK ((language IS NULL))", None),
        ("CHECK ((amount > 0))", None),
    ],
)
def test_a_not_null_check_is_read_from_its_definition(definition: str, column: str | None) -> None:
    assert not_null_column(definition) == column


def _rendered(tmp_path: Path, *names: str) -> list[str]:
    revisions = Revisions(alembic_config((scenario(*names, into=tmp_path),)))
    [pending] = render(revisions, (real_head(),))
    assert pending.error is None
    return list(pending.statements)


def test_a_concurrent_index_in_an_autocommit_block_is_not_flagged(tmp_path: Path) -> None:
    classifier = Classifier()
    concurrent = [classifier.classify(sql) for sql in _rendered(tmp_path, "concurrent_index")]
    (tmp_path / "plain").mkdir()
    plain = [classifier.classify(sql) for sql in _rendered(tmp_path / "plain", "plain_index")]

    [build] = [e for e in concurrent if e is not None and e.kind.startswith("CREATE INDEX")]
    assert build.sql.startswith(f"CREATE INDEX CONCURRENTLY {INDEX} ON purchases")
    assert (build.lock, build.blocks_writes) == (SHARE_UPDATE_EXCLUSIVE, False)
    [flagged] = [e for e in plain if e is not None and e.blocks_writes]
    assert (flagged.table, flagged.lock) == ("purchases", SHARE)


def test_a_revision_that_cannot_run_offline_is_named_and_the_next_ones_are_planned(
    tmp_path: Path,
) -> None:
    versions = scenario("offline_blind", into=tmp_path)

    peek, after = render(Revisions(alembic_config((versions,))), (real_head(),))

    assert (peek.revision, after.revision) == ("peek1", "after2")
    assert peek.error is not None and "AttributeError" in peek.error
    assert after.error is None
    assert after.statements[0] == "CREATE INDEX ix_purchases_testonly_amount ON purchases (amount);"


def test_every_project_revision_renders_from_an_empty_database() -> None:
    rendered = render(Revisions(alembic_config()), ())

    assert [r.error for r in rendered] == [None] * len(rendered)
    assert rendered[-1].revision == real_head()


def _big_shop(database: ThrowawayDatabase) -> None:
    open_shop(database, shop_rows(purchases=PURCHASES))
    execute(database.url, "ANALYZE purchases")


def _plan(database: ThrowawayDatabase, options: MigrationOptions) -> list[str]:
    lines: list[str] = []

    async def run() -> None:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            await show_plan(engine, options, lines.append)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return lines


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_plan_names_lock_table_and_rows_and_fails_above_the_threshold(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    _big_shop(database)
    versions = scenario("plain_index", into=tmp_path)
    options = MigrationOptions(extra_version_locations=(versions,), guard_rows=THRESHOLD)

    with pytest.raises(PlanBlocksError) as refused:
        _plan(database, options)
    below = _plan(database, MigrationOptions(extra_version_locations=(versions,)))

    assert refused.value.exit_code == 4
    line = str(refused.value)
    for named in ("revision plain_index1", "purchases", "~5,000 rows", "python main.py --plan"):
        assert named in line
    assert "CREATE INDEX ix_purchases_testonly_amount ON purchases (amount)" in line
    [step] = [line for line in below if line.startswith("  ") and "CREATE INDEX" in line]
    assert step.split()[:3] == ["blocks", "SHARE", "purchases"]
    assert "~5,000 rows" in step
    assert below[-1] == "nothing pending blocks writes on a table above 1,000,000 rows"
    assert "linter (squawk): 1 finding(s) in the pending revisions" in below
    [finding] = [line for line in below if line.startswith("squawk: ")]
    assert finding.startswith(
        "squawk: plain_index1: require-concurrent-index-creation: CREATE INDEX "
        "ix_purchases_testonly_amount ON purchases (amount)"
    )
    assert version(database) == [real_head()]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_plan_says_in_one_line_that_it_shows_no_findings_without_squawk(
    database: ThrowawayDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """squawk is a development tool: a production machine plans without it."""
    monkeypatch.setattr(lint, "squawk_binary", lambda: None)
    versions = scenario("plain_index", into=tmp_path)

    shown = _plan(database, MigrationOptions(extra_version_locations=(versions,)))

    assert [line for line in shown if "squawk" in line] == [
        "linter: squawk is not installed: pip install -r requirements-dev.txt; its findings "
        "are not shown"
    ]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_plan_changes_nothing_and_runs_on_a_read_only_database(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    _big_shop(database)
    execute(
        database.url,
        f'ALTER DATABASE "{database.url.database}" SET default_transaction_read_only = on',
    )
    env = clean_env(
        DATABASE_URL=database.url_string,
        EXTRA_MIGRATION_DIRS=str(scenario("plain_index", into=tmp_path)),
        MIGRATION_GUARD_ROWS=str(THRESHOLD),
    )

    result = run_main(["--plan"], env, tmp_path)
    at_head = run_main(["--plan"], clean_env(DATABASE_URL=database.url_string), tmp_path)

    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "revision plain_index1: testonly plain index" in result.stdout
    [step] = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("  ") and "CREATE INDEX" in line
    ]
    assert step.split()[:3] == ["BLOCKS", "SHARE", "purchases"]
    [error] = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert "would block writes on purchases (~5,000 rows" in error
    assert at_head.returncode == 0, at_head.stderr
    assert "0 revision(s) pending" in at_head.stdout
    assert version(database) == [real_head()]
    assert fetch_all(database, f"SELECT 1 FROM pg_indexes WHERE indexname = '{INDEX}'") == []
