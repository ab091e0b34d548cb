#!/usr/bin/env bash
# One-command accelerator check (scripts/accelerator_check.py): a slice of each paper's
# profile on one GPU in under 8 minutes; writes docs/benchmarks/accelerator.md.
#
#   PYTHONPATH=. bash scripts/accelerator_check.sh [--tiny] [--out DIR] [--json PATH]
#
# Needs only JAX (with CUDA for the GPU run) and NumPy. PYTHON selects the interpreter
# (default: python3).
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/accelerator_check.py" "$@"
