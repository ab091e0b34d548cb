"""Benchmark problems: what a benchmark knows and a method must not.

* :class:`Problem` (``problem.py``): one record for every continuous benchmark
  (name, fn, dim, box, minimisers, minimum), and :func:`success`, the success test.
* ``landscapes``: the 19 landscapes of the BH-S paper's Table 5.1 and Schwefel-07 in any
  dimension; ``highdim``: the DGS paper's F1-F6, rotated and shifted, in any dimension.
* ``programs`` (task types, the parity chain, how to write a new task), ``circuits``
  (Boolean circuits and a printer of found circuits), ``dnf``, ``circuit_z3`` (the Z3
  reference synthesiser): the GradSearch paper's program-synthesis tasks.
* ``topology`` and ``groundwater``: the DGS paper's two applications, with their solvers.

Submodules are imported on first use.
"""

import importlib

from jaxopt_lab.problems.problem import Problem, success

_LAZY = ("landscapes", "highdim", "programs", "circuits", "dnf", "circuit_z3", "topology",
         "groundwater")

__all__ = ["Problem", "success", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"jaxopt_lab.problems.{name}")
    raise AttributeError(f"module 'jaxopt_lab.problems' has no attribute {name!r}")
