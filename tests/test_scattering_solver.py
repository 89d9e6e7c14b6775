"""The Helmholtz solver against physics: exact solutions, convergence orders, symmetries, bad input."""

import numpy as np
import pytest

from alignbook.scattering import analytic
from alignbook.scattering.helmholtz import Geometry, far_field, forward, staggered_coefficients


def small_geometry(**overrides) -> Geometry:
    settings = dict(n=24, frequencies=(1.0, 2.0), n_sources=8, n_receivers=8, order=2)
    return Geometry(**(settings | overrides))


def lopsided_medium(n: int) -> np.ndarray:
    """A medium with no symmetry at all, so that symmetric results cannot come from the medium's shape."""
    axis = np.linspace(-0.5, 0.5, n)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return 0.3 * np.exp(-((xx - 0.1) ** 2 + (yy + 0.05) ** 2) / 0.01) + 0.2 * ((np.abs(xx + 0.15) < 0.06)
                                                                                & (np.abs(yy - 0.12) < 0.1))


def test_staggered_stencil_of_order_four_has_the_textbook_weights():
    np.testing.assert_allclose(staggered_coefficients(4), [1 / 24, -9 / 8, 9 / 8, -1 / 24], rtol=1e-12)


def test_homogeneous_medium_scatters_nothing():
    geom = small_geometry()
    assert np.abs(forward(np.zeros((24, 24)), geom)).max() == 0.0
    assert np.abs(forward(lopsided_medium(24), geom)).max() > 1e-3  # and a real medium does scatter


@pytest.mark.parametrize("order", [2, 4])
def test_smooth_field_converges_at_the_stencil_order(order):
    coarse, fine = analytic.manufactured_error(33, order), analytic.manufactured_error(65, order)
    assert abs(np.log2(coarse / fine) - order) < 0.3, (coarse, fine)


def test_disk_agrees_with_the_bessel_series_at_second_order():
    coarse, fine = analytic.disk_error(33), analytic.disk_error(65)
    assert fine < 0.012
    assert 1.7 < np.log2(coarse / fine) < 2.4, (coarse, fine)


def test_far_field_data_obey_reciprocity():
    geom = small_geometry(order=4)
    patterns = far_field(lopsided_medium(24), geom)
    for matrix in patterns:
        asymmetry = np.abs(matrix - matrix.T).max() / np.abs(matrix).max()
        assert asymmetry < 1e-10
    # the symmetry is not trivial: the matrix is far from constant along rows
    assert np.abs(patterns[0] - patterns[0][:, :1]).max() > 1e-2 * np.abs(patterns[0]).max()


def test_rotating_the_medium_by_one_step_rolls_the_data_by_one_index():
    geom = small_geometry(n_sources=4, n_receivers=4)  # one angular step = 90 degrees, exact on the grid
    eta = lopsided_medium(24)
    # Row index is y (pointing up): rot90 with k=-1 turns the medium counter-clockwise by 90 degrees.
    rotated = np.rot90(eta, k=-1)
    original, turned = forward(eta, geom), forward(rotated, geom)
    np.testing.assert_allclose(turned, np.roll(original, (1, 1), axis=(1, 2)), atol=1e-10 * np.abs(original).max())
    assert np.abs(turned - original).max() > 1e-3 * np.abs(original).max()


def test_bad_media_are_refused_with_a_clear_message():
    geom = small_geometry()
    with pytest.raises(ValueError, match=r"shape \(20, 24\).*needs \(24, 24\)"):
        forward(np.zeros((20, 24)), geom)
    broken = np.zeros((24, 24))
    broken[3, 4] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        forward(broken, geom)
    with pytest.raises(ValueError, match="1 \\+ eta must be positive"):
        forward(np.full((24, 24), -1.5), geom)
    with pytest.raises(ValueError, match="must be real"):
        forward(np.zeros((24, 24), dtype=complex), geom)
    with pytest.raises(ValueError, match="unstable grid: .* points per wavelength"):
        forward(np.full((24, 24), 8.0), geom)  # slows the waves 3x: too few points per wavelength


def test_bad_geometries_are_refused():
    with pytest.raises(ValueError, match="unstable grid.*n >= "):
        Geometry(n=16, frequencies=(1.0, 8.0), n_sources=4, n_receivers=4)
    with pytest.raises(ValueError, match="order must be one of 2, 4, 6, 8"):
        small_geometry(order=3)
    with pytest.raises(ValueError, match="positive numbers"):
        small_geometry(frequencies=(1.0, -2.0))
    with pytest.raises(ValueError, match="positive numbers"):
        small_geometry(frequencies=())
