"""Benchmarks: `make bench` (bench/run.py) against the plain baseline app (bench/baseline.py)."""
