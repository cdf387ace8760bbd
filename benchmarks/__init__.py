"""Benchmarks for issue #4: training speed, quality within a time budget, transcription, startup.

Each `bench_*` module is run with `python -m benchmarks.bench_X` (see benchmarks/README.md),
prints a table and writes JSON under benchmarks/results/. Every number is measured side by side
in the same run, because this project's machines are shared and absolute timings drift.
"""
