"""jaxopt_lab: JAX-accelerated global and discrete optimisation.

Every algorithm is a module with the same names (``Config``, ``Params``, ``State``,
``Info``, ``params``, ``make``; see :mod:`jaxopt_lab.core`), listed by name in
:data:`methods`. The four papers' methods are subpackages, imported on first use:

  * ``jaxopt_lab.dgs``: directional Gaussian smoothing (Zhang et al., UAI 2021).
  * ``jaxopt_lab.basin_hopping``: basin hopping with skipping (Goodridge et al., 2021).
  * ``jaxopt_lab.gradsearch``: gradient-approximated discrete search (Lu, 2021).
  * ``jaxopt_lab.maxent``: multidimensional moment-constrained maximum entropy (Abramov).

Shared: :func:`run` (one chain under ``lax.scan``), :func:`sweep` (seeds, ``vmap``-ed in
fixed per-device chunks, sharded, resumable), ``problems`` (benchmarks), ``records`` (run
records), ``quadrature``; :func:`enable_compilation_cache` keeps compiled programs on disk
for later processes (:mod:`jaxopt_lab.compilation_cache`).
"""

import importlib

from jaxopt_lab.catalog import methods
from jaxopt_lab.compilation_cache import enable_compilation_cache
from jaxopt_lab.core import Method, MinimizeResult, Result, Solution, run
from jaxopt_lab.sweeps import sweep

__version__ = "0.2.0"

_LAZY = ("dgs", "basin_hopping", "gradsearch", "maxent", "problems", "random_search",
         "quadrature", "records", "linalg")

__all__ = ["run", "sweep", "methods", "Method", "Result", "Solution", "MinimizeResult",
           "enable_compilation_cache", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"jaxopt_lab.{name}")
    raise AttributeError(f"module 'jaxopt_lab' has no attribute {name!r}")
