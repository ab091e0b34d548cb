"""DGS: nonlocal directional Gaussian smoothing gradient and its optimisers.

Zhang, Tran, Lu & Zhang, "Enabling long-range exploration in minimization of multimodal
functions", UAI 2021. Public API:

  * :func:`gradient` / :func:`estimate` — the DGS gradient (Eqs. 6-8), batched and chunked.
  * :func:`make_dgs` (Algorithm 1), :func:`make_adadgs` (AdaDGS), :func:`make_optax`
    / :func:`gradient_fn` (DGS as a gradient source for optax).
  * Baselines in JAX: :func:`make_es` (OpenAI-ES), :func:`make_nesterov` (Nesterov–Spokoiny
    random search), :func:`make_finite_differences` (central differences).

"""

from jaxopt_lab.dgs.baselines import (DescentInfo, DescentParams, DescentState, ESConfig,
                                      FDConfig, NesterovConfig, descent_params, make_es,
                                      make_finite_differences, make_nesterov)
from jaxopt_lab.dgs.estimator import Estimate, estimate, gradient, num_evaluations
from jaxopt_lab.dgs.optimizer import (AdaDGSConfig, AdaDGSInfo, AdaDGSParams, AdaDGSState,
                                      DGSConfig, DGSInfo, DGSParams, DGSState,
                                      OptaxDGSConfig, OptaxDGSParams, OptaxDGSState,
                                      adadgs_params, dgs_params, gradient_fn, haar_orthogonal,
                                      make_adadgs, make_dgs, make_optax, perturb_directions)
from jaxopt_lab.dgs.schedules import schedule_value

__all__ = [
    "gradient", "estimate", "Estimate", "num_evaluations", "schedule_value",
    "DGSConfig", "DGSParams", "DGSState", "DGSInfo", "make_dgs", "dgs_params",
    "AdaDGSConfig", "AdaDGSParams", "AdaDGSState", "AdaDGSInfo", "make_adadgs",
    "adadgs_params",
    "OptaxDGSConfig", "OptaxDGSParams", "OptaxDGSState", "make_optax", "gradient_fn",
    "haar_orthogonal", "perturb_directions",
    "DescentParams", "DescentState", "DescentInfo", "descent_params",
    "ESConfig", "make_es", "NesterovConfig", "make_nesterov", "FDConfig",
    "make_finite_differences",
]
