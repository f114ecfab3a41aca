"""Benchmarks: each script measures its baselines in the same run and prints ratios."""
