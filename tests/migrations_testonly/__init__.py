"""Test-only alembic revisions, one directory per scenario; see `scenarios` for how tests use
them and `steps` for what they do. Never imported by the bot: only test processes see them."""
