"""Benchmarks: scripts that measure, print a table and write bench/results/*.json (never timed test assertions)."""
