"""Tests of jaxopt_lab.gradsearch and jaxopt_lab.problems.programs."""
