"""The code's side of the schema: alembic's config and the revision scripts.

Asking alembic for the head imports every revision script and builds its full revision map,
about a quarter of a millisecond per revision, paid at every start even when the database is
already at head. So the graph is first read from the scripts' text (`scan_graph`), and alembic's
map is loaded only when something must run or when the scan cannot vouch for alembic's answer.
A script that would fail to import is therefore reported when it must run, not at every start.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.schema.errors import MultipleHeadsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSION_TABLE = "alembic_version"

# alembic's own rule for which files in a versions directory are revision scripts.
_SCRIPT_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_DOCSTRING = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*[rRuU]?(\"\"\"|''')[\s\S]*?\1")
_ASSIGNMENT = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE
)
# Any other mention of the names, or a star import that could rebind them.
_MENTION = re.compile(r"\b(?:revision|down_revision|branch_labels|depends_on)\b|\bimport\s+\*")
_WORDS = ("revision", "branch_labels", "depends_on", "import *")
_STRING = re.compile(r"'[^'\\\n]*'" + r'|"[^"\\\n]*"')
_PLAIN_VALUE = re.compile(
    rf"[ \t]*(None|{_STRING.pattern}|\((?:[ \t]*(?:{_STRING.pattern})[ \t]*,)*"
    rf"(?:[ \t]*(?:{_STRING.pattern})[ \t]*)?\))[ \t]*(?:#[^\n]*)?(?:\n|\Z)"
)
_MAX_STATEMENT_LINES = 20
_CACHE_FORMAT = 1

Identifiers = tuple[str, tuple[str, ...]]  # a script's revision and its down revisions


def alembic_config(extra_version_locations: Sequence[Path] = ()) -> Config:
    """alembic.ini of this project, usable from any working directory."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    locations = [PROJECT_ROOT / "migrations" / "versions", *extra_version_locations]
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    return config


@dataclass(frozen=True)
class RevisionGraph:
    """What the text scan learned: the single head and every revision id the scripts define."""

    head: str
    revisions: frozenset[str]


class Revisions:
    """The revision graph the code ships. The head and the known ids come from `scan_graph`;
    alembic's revision map, which imports every script, is built only when those cannot
    answer or when something must run (`pending`, the upgrade itself)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Cheap: alembic reads no script until its revision map is first asked for.
        self.script = ScriptDirectory.from_config(config)

    @cached_property
    def _graph(self) -> RevisionGraph | None:
        return scan_graph(self.script)

    def head(self) -> str:
        """The single head; several heads mean an unmerged branch, which we refuse."""
        if self._graph is not None:
            return self._graph.head
        heads = self.script.get_heads()
        if len(heads) != 1:
            raise MultipleHeadsError(sorted(heads))
        return heads[0]

    def unknown(self, revisions: Sequence[str]) -> tuple[str, ...]:
        """Those of `revisions` that no script of the code defines."""
        return tuple(rev for rev in revisions if not self._knows(rev))

    def _knows(self, revision: str) -> bool:
        if self._graph is not None and revision in self._graph.revisions:
            return True
        # alembic also resolves unique prefixes and branch labels: let it decide the rest.
        try:
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False

    def pending(self, current: Sequence[str]) -> tuple[str, ...]:
        """Revisions between `current` and the head, oldest first."""
        lower = tuple(current) or None
        path = self.script.iterate_revisions(self.head(), lower)  # newest first
        return tuple(reversed([script.revision for script in path]))


def scan_graph(script: ScriptDirectory, *, cache: bool = True) -> RevisionGraph | None:
    """The revision graph read from the scripts' text, without importing them; None whenever
    that cannot be sure to match alembic: an unusual layout or script, a broken or branched
    graph. None sends the caller to alembic, which gives the authoritative answer (or error).

    With `cache`, a script whose size and mtime are those recorded at its last reading is not
    read again: the rule by which Python trusts a .pyc, so alembic's own import of the script
    would trust the same bytes."""
    if script.sourceless or script.recursive_version_locations:
        return None
    locations = script.version_locations or [str(Path(script.dir, "versions"))]
    if any(":" in location and not os.path.isabs(location) for location in locations):
        return None  # a package resource: alembic's business
    directories = [Path(location).absolute() for location in locations]
    if len({directory.resolve() for directory in directories}) != len(directories):
        return None
    scripts: list[Identifiers] = []
    for directory in directories:
        if directory.exists():
            found = _directory_scripts(directory, cache=cache)
            if found is None:
                return None
            scripts.extend(found)
    return _single_head_graph(scripts)


def _directory_scripts(directory: Path, *, cache: bool) -> list[Identifiers] | None:
    """The identifiers of the scripts alembic would load from `directory` (not sourceless,
    not recursive), in its order; None as soon as one cannot be read."""
    with os.scandir(directory) as entries:
        files = sorted(
            (entry.name, entry)
            for entry in entries
            if not entry.is_dir() and _SCRIPT_FILE.match(entry.name)
        )
    cache_file = _cache_file(directory) if cache else None
    known = _read_cache(cache_file) if cache_file is not None else {}
    seen: dict[str, list[object]] = {}
    scripts = []
    for name, entry in files:
        stat = entry.stat()
        parsed = _cached(known.get(name), stat.st_size, stat.st_mtime_ns)
        if parsed is None:
            parsed = _parse_script(directory / name)
            if parsed is None:
                return None
        seen[name] = [stat.st_size, stat.st_mtime_ns, parsed[0], list(parsed[1])]
        scripts.append(parsed)
    if cache_file is not None and seen != known and not sys.dont_write_bytecode:
        _write_cache(cache_file, seen)
    return scripts


def _cache_file(directory: Path) -> Path | None:
    """Beside the scripts' .pyc files (honouring PYTHONPYCACHEPREFIX)."""
    try:
        pyc = importlib.util.cache_from_source(str(directory / "shopbot_revisions.py"))
    except NotImplementedError:  # no bytecode cache in this interpreter
        return None
    return Path(pyc).with_suffix(".json")


def _read_cache(path: Path) -> dict[str, list[object]]:
    try:
        content = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("format") != _CACHE_FORMAT:
        return {}
    scripts = content.get("scripts")
    return scripts if isinstance(scripts, dict) else {}


def _cached(entry: object, size: int, mtime_ns: int) -> Identifiers | None:
    match entry:
        case [int(), int(), str(revision), [*down]] if entry[:2] == [size, mtime_ns] and all(
            isinstance(parent, str) for parent in down
        ):
            return revision, tuple(down)
    return None


def _write_cache(path: Path, scripts: dict[str, list[object]]) -> None:
    """Best effort and atomic: a read-only tree, or a race with another starting instance,
    only costs the next start a reading of the scripts."""
    try:
        path.parent.mkdir(exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name)
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(json.dumps({"format": _CACHE_FORMAT, "scripts": scripts}).encode())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _parse_script(path: Path) -> Identifiers | None:
    """(revision, down revisions) of a script whose identifiers are literals, each assigned
    once at module level and mentioned nowhere else in its code (comments aside); else None."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    docstring = _DOCSTRING.match(text)
    position = docstring.end() if docstring is not None else 0
    values: dict[str, object] = {}
    rest: list[str] = []  # the code outside the identifiers' own statements
    for match in _ASSIGNMENT.finditer(text, position):
        name = match.group(1)
        statement = _plain_literal(text, match.end()) or _literal_statement(text, match.start())
        if name in values or statement is None or match.start() < position:
            return None
        rest.append(text[position : match.start()])
        position, values[name] = statement
    rest.append(text[position:])
    if any(_mentioned(code) for code in rest):
        return None  # bound or used some other way: only running the module can tell
    return _identifiers(values)


def _mentioned(code: str) -> bool:
    if not any(word in code for word in _WORDS):  # the usual case, at C speed
        return False
    for mention in _MENTION.finditer(code):
        line_start = code.rfind("\n", 0, mention.start()) + 1
        if not code[line_start : mention.start()].lstrip().startswith("#"):
            return True
    return False


def _plain_literal(text: str, start: int) -> tuple[int, object] | None:
    """The end offset and value of a one-line `None`, string or tuple of strings at `start`
    (what alembic writes), read without the cost of compiling it."""
    match = _PLAIN_VALUE.match(text, start)
    if match is None:
        return None
    literal = match.group(1)
    if literal == "None":
        return match.end(), None
    strings = tuple(quoted[1:-1] for quoted in _STRING.findall(literal))
    return match.end(), strings if literal.startswith("(") else strings[0]


def _literal_statement(text: str, start: int) -> tuple[int, object] | None:
    """The end offset and literal value of the one-name assignment starting at `start`."""
    end = start
    for _ in range(_MAX_STATEMENT_LINES):
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
        try:
            module = ast.parse(text[start:end])
        except SyntaxError:
            if end == len(text):
                return None
            continue
        return _assigned_literal(module, end)
    return None


def _assigned_literal(module: ast.Module, end: int) -> tuple[int, object] | None:
    if len(module.body) != 1:
        return None
    node = module.body[0]
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None and node.simple:
        target, value = node.target, node.value
    else:
        return None
    if not isinstance(target, ast.Name):
        return None
    try:
        return end, ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _identifiers(values: dict[str, object]) -> Identifiers | None:
    revision = values.get("revision")
    if not isinstance(revision, str) or not revision or "down_revision" not in values:
        return None
    if values.get("branch_labels") is not None or values.get("depends_on") is not None:
        return None  # labels and dependencies take alembic's own resolution rules
    down = values["down_revision"]
    if down is None:
        return revision, ()
    if isinstance(down, str):
        down = (down,)
    if not isinstance(down, tuple | list) or not all(isinstance(d, str) for d in down):
        return None
    return revision, tuple(dict.fromkeys(down))


def _single_head_graph(scripts: Iterable[Identifiers]) -> RevisionGraph | None:
    """The graph if its ids are unique, every down revision exists, it has no cycle and exactly
    one head; those are the cases where alembic's heads are simply "what nothing revises"."""
    down_of: dict[str, tuple[str, ...]] = {}
    for revision, down in scripts:
        if revision in down_of:
            return None
        down_of[revision] = down
    children = dict.fromkeys(down_of, 0)
    for down in down_of.values():
        for parent in down:
            if parent not in children:
                return None
            children[parent] += 1
    heads = [revision for revision, count in children.items() if count == 0]
    if len(heads) != 1:
        return None
    # Kahn's walk from the head down: every revision is reached exactly when there is no cycle.
    ready, reached = list(heads), 0
    while ready:
        reached += 1
        for parent in down_of[ready.pop()]:
            children[parent] -= 1
            if children[parent] == 0:
                ready.append(parent)
    if reached != len(down_of):
        return None
    return RevisionGraph(heads[0], frozenset(down_of))
