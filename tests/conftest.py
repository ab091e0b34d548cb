"""Suite-wide JAX settings: 8 fake CPU devices and strict rank promotion.

The device count must be set before any JAX backend starts, so it is done here, at import
time of the first conftest (JAX reads ``JAX_NUM_CPU_DEVICES`` once, when its CPU backend
starts). Tests that need a single
device pass ``devices=jax.devices()[:1]``.
"""

import os

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "8")

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", int(os.environ["JAX_NUM_CPU_DEVICES"]))
jax.config.update("jax_numpy_rank_promotion", "raise")
