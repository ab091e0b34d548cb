"""GradSearch: gradient-approximated discrete search for program synthesis, and its baselines.

Lu, "Mitigating the failures of gradient-based program synthesis" (2021). One module per
algorithm, each with ``Config``, ``Params``, ``State``, ``Info``, ``params``, ``make``:
  * :mod:`~jaxopt_lab.gradsearch.gradsearch`: GradSearch; greedy, running average (both
    readings), epsilon-greedy, GradSearch+ and its soft variant are ``Config`` choices;
  * :mod:`~jaxopt_lab.gradsearch.bop`: Bop (Algorithm 2's threshold rule, binary programs);
  * :mod:`~jaxopt_lab.gradsearch.ste`: the straight-through estimator on latent weights;
  * :mod:`~jaxopt_lab.gradsearch.relaxation`: continuous relaxations (FMGD, temperature
    softmax, Gumbel-softmax, neural reparameterisation; optionally regularised).
Also :mod:`~jaxopt_lab.gradsearch.moves` (Taylor estimates of single-variable moves),
:func:`minimize` (vmapped random restarts) and
:func:`~jaxopt_lab.gradsearch.metrics.steps_to_solution`. The tasks, and how to write one,
are in :mod:`jaxopt_lab.problems.programs`.
"""

from jaxopt_lab.gradsearch import bop, gradsearch, metrics, moves, relaxation, ste
from jaxopt_lab.gradsearch.metrics import steps_to_solution
from jaxopt_lab.gradsearch.minimize import minimize, random_start

__all__ = ["gradsearch", "bop", "ste", "relaxation", "moves", "metrics", "minimize",
           "random_start", "steps_to_solution"]
