"""Benchmarks of ``make bench`` runs ``benchmarks.run``, which writes BENCHMARKS.md."""
