"""Learned meta-policies for nasgym environments (network definitions and shipped weights)."""
