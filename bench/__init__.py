"""Benchmarks, run by hand (see docs/PERFORMANCE.md)."""
