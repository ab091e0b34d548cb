"""Benchmark problems: landscapes (BH-S), highdim (DGS), programs (GradSearch)."""
