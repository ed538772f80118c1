"""Benchmark suites: our code against a raw baseline measured in the same run (see README.md)."""
