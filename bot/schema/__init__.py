"""Building blocks of the migrator: errors, connecting, locking, revision scripts."""
