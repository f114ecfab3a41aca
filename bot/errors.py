"""The errors that stop the process: each carries its exit code (documented in the README)."""

from __future__ import annotations

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_MIGRATION = 4


class StartupError(Exception):
    """The bot cannot start; the message is one line that says what to do."""

    exit_code = EXIT_MIGRATION
