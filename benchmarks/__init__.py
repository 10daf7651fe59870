"""Reproducible performance runs for Headwater (``python -m benchmarks.run``)."""
