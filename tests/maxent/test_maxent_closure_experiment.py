"""``experiments.maxent_closure``: its arguments, the gas model, and a tiny run (resume)."""

import numpy as np
import pytest

from experiments import maxent_closure
from experiments.common import main


def test_batch_must_divide_cells(tmp_path):
    with pytest.raises(ValueError, match=r"--batch \(3\) must divide --cells \(10\)"):
        main(maxent_closure.EXPERIMENT, ["--cells", "10", "--batch", "3", "--out",
                                         str(tmp_path), "--no-progress"])


def test_gas_model_is_a_rotation_with_temperatures_and_a_bounded_maxwellian_fraction():
    drift, mixing, w = maxent_closure.gas_cells(np.arange(8), 8)
    np.testing.assert_allclose(np.einsum("nij,nik->njk", mixing, mixing),
                               np.broadcast_to(np.diag(maxent_closure.TEMPERATURES), (8, 3, 3)),
                               atol=1e-12)
    assert np.all((w >= 0) & (w <= maxent_closure.W_MAX))
    assert drift.shape == (8, 3)


def test_gaussian_closure_moments_are_those_of_a_standard_normal():
    g = maxent_closure._gaussian_moments()
    idx = [tuple(i) for i in maxent_closure.multi_indices(3, 6)]
    assert g[idx.index((0, 0, 0))] == 1 and g[idx.index((2, 0, 0))] == 1
    assert g[idx.index((4, 0, 0))] == 3 and g[idx.index((2, 2, 2))] == 1
    assert g[idx.index((6, 0, 0))] == 15 and g[idx.index((3, 1, 0))] == 0


@pytest.mark.slow
def test_a_tiny_field_closes_every_cell_and_resumes(tmp_path):
    argv = ["--cells", "8", "--batch", "4", "--particles", "3000", "--out",
            str(tmp_path / "run"), "--no-progress"]
    main(maxent_closure.EXPERIMENT, argv)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| converged | 8 / 8 |" in report
    assert (tmp_path / "run" / "figures" / "closure_error.png").stat().st_size > 0
    main(maxent_closure.EXPERIMENT, argv)  # both batches saved: the rerun only reports
    rerun = (tmp_path / "run" / "report.md").read_text()
    assert rerun.split("| throughput")[0] == report.split("| throughput")[0]
