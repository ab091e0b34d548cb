"""Every algorithm of jaxopt_lab by name: ``jaxopt_lab.methods`` maps a name to its module.

Each module has the same names (``Config``, ``Params``, ``State``, ``Info``, ``params``,
``make``; see :mod:`jaxopt_lab.core`), so code that loops over methods needs no special
cases::

    import jaxopt_lab
    for name, module in jaxopt_lab.methods.items():
        print(name, module.Config.__doc__.splitlines()[0])

Modules are imported on first access, so ``import jaxopt_lab`` stays light. MaxEnt is not
here: it is a deterministic solver (``jaxopt_lab.maxent.solve``), not an init/step method.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

__all__ = ["MethodCatalog", "methods"]

_MODULES = {
    "random_search": "jaxopt_lab.random_search",
    # DGS paper: the DGS optimisers and the gradient-estimation baselines.
    "dgs": "jaxopt_lab.dgs.dgs",
    "adadgs": "jaxopt_lab.dgs.adadgs",
    "dgs_optax": "jaxopt_lab.dgs.dgs_optax",
    "es": "jaxopt_lab.dgs.es",
    "nesterov": "jaxopt_lab.dgs.nesterov",
    "fd": "jaxopt_lab.dgs.fd",
    # BH-S paper.
    "bh": "jaxopt_lab.basin_hopping.bh",
    "bhs": "jaxopt_lab.basin_hopping.bhs",
    "hybrid": "jaxopt_lab.basin_hopping.hybrid",
    # GradSearch paper.
    "gradsearch": "jaxopt_lab.gradsearch.gradsearch",
    "bop": "jaxopt_lab.gradsearch.bop",
    "ste": "jaxopt_lab.gradsearch.ste",
    "relaxation": "jaxopt_lab.gradsearch.relaxation",
}


class MethodCatalog(Mapping):
    """A read-only mapping ``name -> algorithm module``, imported on first access."""

    def __init__(self, modules: Mapping[str, str]):
        self._paths = dict(modules)

    def __getitem__(self, name: str) -> ModuleType:
        if name not in self._paths:
            raise KeyError(f"unknown method {name!r}; known: {sorted(self._paths)}")
        return importlib.import_module(self._paths[name])

    def __iter__(self):
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"MethodCatalog({sorted(self._paths)})"


methods = MethodCatalog(_MODULES)
