"""Shared test helpers: throwaway databases and real bot processes."""
