"""Benchmarks (``hub bench ...``): they print figures; no test ever fails on timing."""
