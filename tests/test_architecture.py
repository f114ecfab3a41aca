"""The house's rules, read from the code itself (ARCHITECTURE.md says why): imports run one way,
from the composition root down to the database; the shop's rules, the DAO and the migrator
never import aiogram or aiohttp; alembic's env.py and the revisions need no bot; and no module
in bot/ grows past 400 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The rooms, lowest first: a module imports from rooms of its own level or below, never above.
LEVELS: list[set[str]] = [
    {"bot.errors", "bot.log"},
    {"bot.config", "bot.dao", "bot.migration", "bot.i18n"},
    {"bot.shop"},
    {"bot.telegram"},
    {"bot.payments"},
    {"bot.keyboards", "bot.filters", "bot.middlewares", "bot.handlers"},
    {"bot.serving", "bot.web", "bot.workers"},
    {"bot.app", "bot.stock"},
]
# Telegram's and the web's frameworks stay out of the rules, the queries and the migrator,
FRAMEWORKS = ("aiogram", "aiohttp")
FRAMEWORK_FREE = ("bot.shop", "bot.dao", "bot.migration")
# but for this one: the Crypto Pay API client speaks HTTP (with aiohttp; aiogram never).
FRAMEWORK_EXCEPTIONS = {("bot.shop.gateways.cryptopay", "aiohttp")}
# What alembic's side may use of the bot: env.py runs with a database URL and no bot token,
# and a revision must keep working as the application's code changes.
ENV_MAY_IMPORT = ("bot.dao", "bot.migration")
REVISIONS_MAY_IMPORT = ("bot.migration.batches",)
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports, as a dotted name
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> Iterator[Import]:
    """Every import in the file, at any depth (inside functions and TYPE_CHECKING too)."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from bot import migration` imports bot.migration
                yield Import(module, f"{base}.{alias.name}", node.lineno)


def in_room(name: str, room: str) -> bool:
    return name == room or name.startswith(room + ".")


def room_of(name: str) -> tuple[str, int] | None:
    """The room a dotted name belongs to, and its level; None outside bot's rooms."""
    for level, rooms in enumerate(LEVELS):
        for room in rooms:
            if in_room(name, room):
                return room, level
    return None


def bot_modules() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


def all_imports() -> list[Import]:
    return [found for path in bot_modules() for found in imports_of(path)]


def test_every_module_in_bot_has_a_room() -> None:
    names = [module_name(path, ROOT) for path in bot_modules()]
    homeless = [name for name in names if room_of(name) is None]
    assert homeless == ["bot"], f"give these a room in LEVELS and ARCHITECTURE.md: {homeless}"


def test_imports_never_run_upward() -> None:
    upward = []
    for found in all_imports():
        mine, target = room_of(found.module), room_of(found.target)
        if mine is not None and target is not None and target[1] > mine[1]:
            upward.append(f"{found.module}:{found.line} imports {found.target}")
    assert upward == []


@pytest.mark.parametrize("room", FRAMEWORK_FREE)
def test_rules_queries_and_migrator_import_no_framework(room: str) -> None:
    found = [
        f"{found.module}:{found.line} imports {found.target}"
        for found in all_imports()
        if in_room(found.module, room)
        and (framework := found.target.split(".")[0]) in FRAMEWORKS
        and (found.module, framework) not in FRAMEWORK_EXCEPTIONS
    ]
    assert found == []


def bot_imports_of(paths: list[Path]) -> list[Import]:
    return [found for path in paths for found in imports_of(path) if in_room(found.target, "bot")]


def test_alembic_env_needs_no_bot() -> None:
    env = [ROOT / "migrations" / "env.py"]
    found = [f.target for f in bot_imports_of(env)]
    assert found  # the walker read it
    assert [name for name in found if not any(in_room(name, r) for r in ENV_MAY_IMPORT)] == []


def test_revisions_import_no_application_code() -> None:
    revisions = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    assert revisions
    found = [
        f"{f.module}:{f.line} imports {f.target}"
        for f in bot_imports_of(revisions)
        if not any(in_room(f.target, allowed) for allowed in REVISIONS_MAY_IMPORT)
    ]
    assert found == []


def test_no_module_in_bot_is_over_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in bot_modules()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these into modules with one job each: {long}"


def test_the_walker_sees_every_form_of_import(tmp_path: Path) -> None:
    """Plain, from, `from bot import x`, relative, and inside a function: each is seen, in the
    room it reaches (so an upward one would fail the test above)."""
    source = tmp_path / "bot" / "shop" / "sample.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "import aiogram.types\nfrom bot import handlers\nfrom ..serving import health\n"
        "def late() -> None:\n    from bot.app import run\n"
    )
    found = list(imports_of(source, tmp_path))
    assert {f.module for f in found} == {"bot.shop.sample"}
    assert [(f.target, f.line) for f in found] == [
        ("aiogram.types", 1),
        ("bot.handlers", 2),
        ("bot.serving.health", 3),
        ("bot.app.run", 5),
    ]
    assert [room_of(f.target) for f in found] == [
        None,
        ("bot.handlers", 5),
        ("bot.serving", 6),
        ("bot.app", 7),
    ]
