"""jaxopt_lab: JAX-accelerated global and discrete optimisation.

Four methods, each a subpackage imported on first use:
  * ``jaxopt_lab.dgs``: directional Gaussian smoothing (Zhang et al., UAI 2021).
  * ``jaxopt_lab.basin_hopping``: basin hopping with skipping (Goodridge et al., 2021).
  * ``jaxopt_lab.gradsearch``: gradient-approximated discrete search (Lu, 2021).
  * ``jaxopt_lab.maxent``: multidimensional moment-constrained maximum entropy (Abramov).

Shared machinery: :mod:`~jaxopt_lab.core` (the init/step contract and ``run``),
:mod:`~jaxopt_lab.quadrature`, :mod:`~jaxopt_lab.sweep`, :mod:`~jaxopt_lab.results`,
:mod:`~jaxopt_lab.registry`.
"""

import importlib

from jaxopt_lab import quadrature, registry, results, sweep
from jaxopt_lab.core import Method, run
from jaxopt_lab.results import RunRecord

__version__ = "0.1.0"

METHOD_PACKAGES = ("dgs", "basin_hopping", "gradsearch", "maxent")
_LAZY = set(METHOD_PACKAGES) | {"problems", "random_search"}

# ``jaxopt_lab.sweep`` is the module; the function is ``jaxopt_lab.sweep.sweep``.
__all__ = ["Method", "run", "RunRecord", "quadrature", "registry", "results", "sweep",
           *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"jaxopt_lab.{name}")
    raise AttributeError(f"module 'jaxopt_lab' has no attribute {name!r}")
