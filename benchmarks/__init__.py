"""Benchmarks: respdb side by side with redis-server in the same run, reported as ratios."""
