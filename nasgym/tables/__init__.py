"""Benchmark tables shipped with nasgym (NAS-Bench-201)."""
