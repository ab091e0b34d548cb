"""Experiment scripts: one per paper table or figure (``python -m experiments.<name>``).

Experiments import jaxopt_lab, never the reverse. See :mod:`experiments.common` for the
convention and ``python -m experiments.reproduce`` to run them all.
"""
