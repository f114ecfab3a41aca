"""What one SQL statement does to a live PostgreSQL table: the table, the lock it takes, and
whether it holds a lock that stops writes for the whole length of a scan, a rewrite or an index
build (so every write waits as long as the table is big). Read token by token: the statements
are our revisions' offline PostgreSQL SQL, a narrow and regular grammar.

Blocking: CREATE [UNIQUE] INDEX or REINDEX without CONCURRENTLY (SHARE), ADD FOREIGN KEY
without NOT VALID (SHARE ROW EXCLUSIVE on both tables while every row is checked), ADD CHECK
without NOT VALID, ADD UNIQUE / PRIMARY KEY without USING INDEX, ADD EXCLUDE, ALTER COLUMN TYPE
(a rewrite; a binary-compatible change such as a longer varchar would not rewrite, which the SQL
alone does not tell, so it counts), SET NOT NULL (a scan, unless a validated `CHECK (col IS NOT
NULL)` is known), ADD COLUMN with a volatile default, an identity, a serial or a stored
generated column (a rewrite) or with an inline key, check or reference, SET TABLESPACE /
LOGGED / UNLOGGED, VACUUM FULL, CLUSTER (ACCESS EXCLUSIVE), and UPDATE or DELETE without WHERE
(every row locked until the revision commits: every writer of the table waits). Everything
else holds its lock for a moment (metadata only); an UPDATE or DELETE with a WHERE is taken to
touch a bounded set of rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
# The modes an ALTER TABLE action takes, weakest first.
_ALTER_LOCKS = (SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, ACCESS_EXCLUSIVE)

# Functions whose default PostgreSQL must compute row by row: ADD COLUMN rewrites the table.
_VOLATILE = re.compile(
    r"random|gen_random_uuid|uuid_generate_v\w+|clock_timestamp|timeofday|nextval|txid_current"
)
_SERIAL = re.compile(r"(BIG|SMALL)?SERIAL[248]?")
_TOKENS = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/"""  # spaces and comments: dropped
    r"""|(?P<token>"(?:[^"]|"")*"|'(?:[^']|'')*'|[A-Za-z_][\w$]*|\d+(?:\.\d+)?|::|.)""",
    re.DOTALL,
)


@dataclass(frozen=True)
class Effect:
    """What a statement does on PostgreSQL. `table` is the table whose size sets how long a
    blocking statement holds its lock (None when the statement names only an `index`, or no
    table at all); `others` are tables it locks as long (a foreign key's referenced table)."""

    sql: str
    kind: str
    table: str | None = None
    lock: str | None = None
    blocks_writes: bool = False
    why: str = ""
    others: tuple[str, ...] = ()
    index: str | None = None
    # On SQLite, whether the statement holds the database's one write lock for a pass over the
    # whole table: a batch operation copies it (alembic rebuilds the table for anything but a
    # plain ADD COLUMN), an index build or an UPDATE without WHERE reads all of it.
    scans_on_sqlite: bool = False


@dataclass
class _Action:
    lock: str
    blocks: bool = False
    why: str = ""
    kind: str = ""
    others: tuple[str, ...] = ()
    rebuilds: bool = True


def tokens(sql: str) -> list[str]:
    """The statement's tokens, comments and spaces dropped."""
    return [m.group("token") for m in _TOKENS.finditer(sql) if m.group("token") is not None]


def _upper(items: Sequence[str]) -> list[str]:
    return [t.upper() if not t.startswith(('"', "'")) else t for t in items]


def _actions(words: Sequence[str], at: int) -> list[tuple[int, int]]:
    """The spans of an ALTER TABLE's comma-separated actions, from `at` on."""
    spans, depth, start = [], 0, at
    for index in range(at, len(words)):
        depth += (words[index] == "(") - (words[index] == ")")
        if words[index] == "," and depth == 0:
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(words)))
    return [(begin, end) for begin, end in spans if end > begin]


def _name(items: Sequence[str], at: int) -> tuple[str | None, int]:
    """The (possibly schema-qualified) name starting at `at`, as written, and the index after."""
    if at >= len(items):
        return None, at
    name = items[at]
    at += 1
    while at + 1 < len(items) and items[at] == ".":
        name += "." + items[at + 1]
        at += 2
    return name, at


def _skip(words: Sequence[str], at: int, *optional: str) -> int:
    """Past any of the `optional` keyword runs (e.g. "IF NOT EXISTS", "ONLY") at `at`."""
    moved = True
    while moved:
        moved = False
        for phrase in optional:
            parts = phrase.split()
            if list(words[at : at + len(parts)]) == parts:
                at += len(parts)
                moved = True
    return at


def _has(words: Sequence[str], *phrase: str) -> bool:
    n = len(phrase)
    return any(list(words[i : i + n]) == list(phrase) for i in range(len(words) - n + 1))


def _depth_zero(words: Sequence[str]) -> list[str]:
    """The words outside any parentheses."""
    kept, depth = [], 0
    for word in words:
        depth += (word == "(") - (word == ")")
        if depth == 0 and word not in "()":
            kept.append(word)
    return kept


def _not_null_check(words: Sequence[str]) -> str | None:
    """The column of a `CHECK (col IS NOT NULL)` body, parentheses in any number."""
    inner = [w for w in words if w not in "()"]
    if len(inner) == 4 and inner[1:] == ["IS", "NOT", "NULL"]:
        return inner[0].lower() if not inner[0].startswith('"') else inner[0]
    return None


def not_null_column(definition: str) -> str | None:
    """The column of a `CHECK (column IS NOT NULL)`, as pg_get_constraintdef writes it."""
    words = _upper(tokens(definition))
    return _not_null_check(words[1:]) if words[:1] == ["CHECK"] else None


@dataclass
class Classifier:
    """Reads statements in the order they run; remembers the `CHECK (col IS NOT NULL)`
    constraints added and validated on the way, so a SET NOT NULL after them is no scan.
    `validated` holds the (table, column) pairs the live database already has such a check for."""

    validated: set[tuple[str, str]] = field(default_factory=set)
    _unvalidated: dict[str, tuple[str, str]] = field(default_factory=dict)

    def classify(self, sql: str) -> Effect | None:
        """The statement's effect; None for what touches no table (BEGIN, COMMIT, comments)."""
        raw = tokens(sql)
        while raw and raw[-1] == ";":
            raw.pop()
        if not raw:
            return None
        words = _upper(raw)
        head = words[0]
        if head in ("BEGIN", "COMMIT", "START", "END", "ROLLBACK"):
            return None
        shown = " ".join(sql.split()).rstrip(";")
        if head == "CREATE":
            return self._create(shown, raw, words)
        if head == "ALTER" and len(words) > 1 and words[1] == "TABLE":
            return self._alter_table(shown, raw, words)
        if head in ("DROP", "ALTER") and len(words) > 1 and words[1] == "INDEX":
            concurrently = words[2:3] == ["CONCURRENTLY"]
            at = _skip(words, 2, "CONCURRENTLY", "IF EXISTS", "IF NOT EXISTS")
            lock = SHARE_UPDATE_EXCLUSIVE if concurrently else ACCESS_EXCLUSIVE
            kind = f"{head} INDEX" + (" CONCURRENTLY" if concurrently else "")
            return Effect(shown, kind, lock=lock, index=_name(raw, at)[0])
        if head == "REINDEX":
            return _reindex(shown, raw, words)
        if head in ("UPDATE", "DELETE"):
            return _update(shown, raw, words)
        if head in ("VACUUM", "CLUSTER"):
            return _vacuum(shown, raw, words)
        return _other(shown, raw, words)

    def _create(self, shown: str, raw: list[str], words: list[str]) -> Effect:
        at = _skip(words, 1, "UNIQUE")
        if words[at : at + 1] == ["INDEX"]:
            concurrently = words[at + 1 : at + 2] == ["CONCURRENTLY"]
            table, _ = _name(raw, words.index("ON") + 1) if "ON" in words else (None, 0)
            if table is not None and table.upper() == "ONLY":
                table, _ = _name(raw, words.index("ON") + 2)
            kind = "CREATE UNIQUE INDEX" if "UNIQUE" in words[:at] else "CREATE INDEX"
            if concurrently:
                return Effect(shown, f"{kind} CONCURRENTLY", table, SHARE_UPDATE_EXCLUSIVE, False)
            why = "builds the index while every write to the table waits"
            return Effect(shown, kind, table, SHARE, True, why, scans_on_sqlite=True)
        at = _skip(words, 1, "TEMPORARY", "TEMP", "UNLOGGED", "OR REPLACE")
        if words[at : at + 1] == ["TABLE"]:
            table, _ = _name(raw, _skip(words, at + 1, "IF NOT EXISTS"))
            referenced = _references(raw, words)
            lock = SHARE_ROW_EXCLUSIVE if referenced else None
            return Effect(shown, "CREATE TABLE", table, lock, others=referenced)
        if words[at : at + 1] == ["TRIGGER"] and "ON" in words:
            table, _ = _name(raw, words.index("ON") + 1)
            return Effect(shown, "CREATE TRIGGER", table, SHARE_ROW_EXCLUSIVE)
        return Effect(shown, " ".join(words[:2]))

    def _alter_table(self, shown: str, raw: list[str], words: list[str]) -> Effect:
        at = _skip(words, 2, "IF EXISTS", "ONLY")
        table, at = _name(raw, at)
        assert table is not None
        actions = [self._action(table, raw[a:b], words[a:b]) for a, b in _actions(words, at)]
        blocking = next((action for action in actions if action.blocks), None)
        return Effect(
            shown,
            ", ".join(dict.fromkeys(action.kind for action in actions)),
            table,
            max((action.lock for action in actions), key=_ALTER_LOCKS.index),
            blocking is not None,
            blocking.why if blocking else "",
            tuple(dict.fromkeys(name for action in actions for name in action.others)),
            scans_on_sqlite=any(action.rebuilds for action in actions),
        )

    def _action(self, table: str, raw: list[str], words: list[str]) -> _Action:
        first = words[0]
        if first == "ADD":
            at = _skip(words, 1, "COLUMN", "IF NOT EXISTS")
            if words[at] in ("CONSTRAINT", "CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE"):
                return self._add_constraint(table, raw[at:], words[at:])
            return _add_column(raw[at:], words[at:])
        if first == "VALIDATE":
            name = raw[-1]
            if name in self._unvalidated:
                self.validated.add(self._unvalidated.pop(name))
            return _Action(SHARE_UPDATE_EXCLUSIVE, kind="VALIDATE CONSTRAINT", rebuilds=False)
        if first == "ALTER":
            return self._alter_column(table, raw, words)
        if first == "SET" and len(words) > 1 and words[1] in ("TABLESPACE", "LOGGED", "UNLOGGED"):
            why = "rewrites the table while every query on it waits"
            return _Action(ACCESS_EXCLUSIVE, True, why, f"SET {words[1]}")
        if first in ("SET", "RESET") and len(words) > 1 and words[1] == "(":
            return _Action(SHARE_UPDATE_EXCLUSIVE, kind=f"{first} (storage)")
        if first in ("ENABLE", "DISABLE") and "TRIGGER" in words:
            return _Action(SHARE_ROW_EXCLUSIVE, kind=f"{first} TRIGGER", rebuilds=False)
        if first == "RENAME":  # alembic renames a SQLite table in place, a column by a copy
            return _Action(ACCESS_EXCLUSIVE, kind="RENAME", rebuilds=words[1:2] != ["TO"])
        return _Action(ACCESS_EXCLUSIVE, kind=" ".join(words[:2]))

    def _add_constraint(self, table: str, raw: list[str], words: list[str]) -> _Action:
        name = raw[1] if words[0] == "CONSTRAINT" else None
        at = 2 if words[0] == "CONSTRAINT" else 0
        body = _depth_zero(words[at:])
        not_valid = _has(body, "NOT", "VALID")
        kind = body[0]
        if kind == "FOREIGN":
            referenced = _references(raw, words)
            label = "ADD FOREIGN KEY" + (" NOT VALID" if not_valid else "")
            why = "checks every row while writes to both tables wait"
            return _Action(SHARE_ROW_EXCLUSIVE, not not_valid, why, label, referenced)
        if kind == "CHECK":
            column = _not_null_check(words[at + 1 : _closing(words, at + 1) + 1])
            if column is not None and name is not None:
                if not_valid:
                    self._unvalidated[name] = (table, column)
                else:
                    self.validated.add((table, column))
            label = "ADD CHECK" + (" NOT VALID" if not_valid else "")
            why = "checks every row while every query on the table waits"
            return _Action(ACCESS_EXCLUSIVE, not not_valid, why, label)
        if kind in ("UNIQUE", "PRIMARY") and _has(body, "USING", "INDEX"):
            return _Action(ACCESS_EXCLUSIVE, kind=f"ADD {kind} USING INDEX")
        why = "builds an index while every query on the table waits"
        return _Action(ACCESS_EXCLUSIVE, True, why, f"ADD {' '.join(body[:2])}")

    def _alter_column(self, table: str, raw: list[str], words: list[str]) -> _Action:
        at = _skip(words, 1, "COLUMN")
        column = raw[at].lower() if not raw[at].startswith('"') else raw[at]
        rest = words[at + 1 :]
        if rest[:1] == ["TYPE"] or rest[:3] == ["SET", "DATA", "TYPE"]:
            why = "rewrites the table while every query on it waits"
            return _Action(ACCESS_EXCLUSIVE, True, why, "ALTER COLUMN TYPE")
        if rest[:3] == ["SET", "NOT", "NULL"]:
            if (table, column) in self.validated:
                return _Action(ACCESS_EXCLUSIVE, kind="SET NOT NULL (checked)")
            why = "scans the table while every query on it waits"
            return _Action(ACCESS_EXCLUSIVE, True, why, "SET NOT NULL")
        if rest[:2] == ["SET", "STATISTICS"]:
            return _Action(SHARE_UPDATE_EXCLUSIVE, kind="SET STATISTICS")
        return _Action(ACCESS_EXCLUSIVE, kind=f"ALTER COLUMN {' '.join(rest[:2])}")


def _closing(words: Sequence[str], at: int) -> int:
    """The index of the parenthesis closing the one at `at`."""
    depth = 0
    for index in range(at, len(words)):
        depth += (words[index] == "(") - (words[index] == ")")
        if depth == 0:
            return index
    return len(words) - 1


def _references(raw: Sequence[str], words: Sequence[str]) -> tuple[str, ...]:
    found = [_name(raw, i + 1)[0] for i, word in enumerate(words) if word == "REFERENCES"]
    return tuple(dict.fromkeys(name for name in found if name is not None))


def _add_column(raw: list[str], words: list[str]) -> _Action:
    body = _depth_zero(words)
    plain = _Action(ACCESS_EXCLUSIVE, kind="ADD COLUMN", rebuilds=False)
    if (len(body) > 1 and _SERIAL.fullmatch(body[1])) or _has(body, "GENERATED"):
        why = "fills every row (a sequence or a stored expression) while every query waits"
        return _Action(ACCESS_EXCLUSIVE, True, why, "ADD COLUMN (computed)")
    if "DEFAULT" in words:
        after = words[words.index("DEFAULT") + 1 :]
        if any(_VOLATILE.fullmatch(word.lower()) for word in after):
            why = "rewrites the table with a volatile default while every query waits"
            return _Action(ACCESS_EXCLUSIVE, True, why, "ADD COLUMN DEFAULT (volatile)")
        # alembic rebuilds a SQLite table for a default given as an SQL expression.
        plain.rebuilds = not (after and after[0].startswith("'"))
    for keyword, what in (("PRIMARY", "an index"), ("UNIQUE", "an index"), ("CHECK", "a check")):
        if keyword in body:
            why = f"builds {what} over every row while every query waits"
            return _Action(ACCESS_EXCLUSIVE, True, why, f"ADD COLUMN {keyword}")
    if "REFERENCES" in body:
        why = "checks every row while writes to both tables wait"
        referenced = _references(raw, words)
        return _Action(SHARE_ROW_EXCLUSIVE, True, why, "ADD COLUMN REFERENCES", referenced)
    return plain


def _reindex(shown: str, raw: list[str], words: list[str]) -> Effect:
    at = _closing(words, 1) + 1 if words[1:2] == ["("] else 1
    what = words[at]
    concurrently = words[at + 1 : at + 2] == ["CONCURRENTLY"]
    name, _ = _name(raw, at + (2 if concurrently else 1))
    table, index = (name, None) if what == "TABLE" else (None, name)
    if concurrently:
        return Effect(shown, "REINDEX CONCURRENTLY", table, SHARE_UPDATE_EXCLUSIVE, index=index)
    why = "rebuilds the index while every write to the table waits"
    return Effect(shown, "REINDEX", table, SHARE, True, why, index=index)


def _update(shown: str, raw: list[str], words: list[str]) -> Effect:
    at = _skip(words, 1, "FROM", "ONLY")
    table, _ = _name(raw, at)
    kind = words[0]
    if "WHERE" in _depth_zero(words):
        return Effect(shown, kind, table, ROW_EXCLUSIVE)
    why = "locks every row until the revision commits: every writer of the table waits"
    return Effect(
        shown, f"{kind} (every row)", table, ROW_EXCLUSIVE, True, why, scans_on_sqlite=True
    )


def _vacuum(shown: str, raw: list[str], words: list[str]) -> Effect:
    options = words[1 : _closing(words, 1) + 1] if words[1:2] == ["("] else []
    at = 1 + len(options)
    full = words[0] == "CLUSTER" or words[at : at + 1] == ["FULL"] or "FULL" in options
    at = _skip(words, at, "FULL", "FREEZE", "VERBOSE", "ANALYZE")
    table, _ = _name(raw, at)
    if not full:
        return Effect(shown, words[0], table, SHARE_UPDATE_EXCLUSIVE)
    why = "rewrites the table while every query on it waits"
    kind = "CLUSTER" if words[0] == "CLUSTER" else "VACUUM FULL"
    return Effect(shown, kind, table, ACCESS_EXCLUSIVE, True, why)


def _other(shown: str, raw: list[str], words: list[str]) -> Effect:
    head = words[0]
    if head == "INSERT":
        table, _ = _name(raw, _skip(words, 1, "INTO"))
        return Effect(shown, "INSERT", table, ROW_EXCLUSIVE)
    if head == "TRUNCATE" or words[:2] == ["DROP", "TABLE"]:
        at = _skip(words, 1, "TABLE", "IF EXISTS", "ONLY")
        return Effect(shown, f"{head} TABLE", _name(raw, at)[0], ACCESS_EXCLUSIVE)
    if head == "LOCK":
        table, at = _name(raw, _skip(words, 1, "TABLE", "ONLY"))
        mode = " ".join(words[at + 1 : words.index("MODE")]) if "MODE" in words else None
        return Effect(shown, "LOCK", table, mode or ACCESS_EXCLUSIVE)
    return Effect(shown, " ".join(words[:2]))
