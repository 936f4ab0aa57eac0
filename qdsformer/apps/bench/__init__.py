"""Benchmark harness: side-by-side timings of alternatives in one run, written as JSON."""
