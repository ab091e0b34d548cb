"""DGS: the nonlocal directional Gaussian smoothing gradient and the methods built on it.

Zhang, Tran, Lu & Zhang, "Enabling long-range exploration in minimization of multimodal
functions", UAI 2021.

* Gradient oracles (:mod:`~jaxopt_lab.dgs.estimator`): :func:`gradient` / :func:`estimate`
  (the DGS gradient, Eqs. 6-8), and the baselines' :func:`es_estimate`,
  :func:`fd_estimate`, :func:`nesterov_estimate`, pure functions of an explicit key.
* Methods (``Config``, ``Params``, ``State``, ``Info``, ``params``, ``make``): :mod:`dgs`
  (Algorithm 1), :mod:`adadgs`, :mod:`dgs_optax` (DGS feeding any optax transformation),
  and the baselines :mod:`es` (ES-Bpop), :mod:`nesterov`, :mod:`fd`.
* :func:`minimize`: one call for the common case. :mod:`ipop`: IPOP-CMA-ES over evosax.
  :mod:`sources`: the gradients as pure sources for an outside optimiser (e.g. nlopt's MMA).
"""

from jaxopt_lab.dgs import (adadgs, dgs, dgs_optax, es, estimator, fd, ipop, nesterov, schedules,
                            sources)
from jaxopt_lab.dgs.estimator import (Estimate, es_estimate, estimate, fd_estimate, gradient,
                                      nesterov_estimate, num_evaluations)
from jaxopt_lab.dgs.minimize import minimize

__all__ = ["gradient", "estimate", "es_estimate", "fd_estimate", "nesterov_estimate",
           "Estimate", "num_evaluations", "minimize",
           "dgs", "adadgs", "dgs_optax", "es", "nesterov", "fd", "estimator", "schedules",
           "ipop", "sources"]
