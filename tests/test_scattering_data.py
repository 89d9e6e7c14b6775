"""Data sets: deterministic, independent of parallelism, cached atomically; back-projection baselines."""

import numpy as np
import pytest

from alignbook.scattering import datasets
from alignbook.scattering.backprojection import BackProjection, born_operator
from alignbook.scattering.helmholtz import Geometry, forward
from alignbook.scattering.metrics import rrmse

SPEC = datasets.DataSpec("squares", 16, (0.5, 1.0), 8, 2, 6, "train", 3)


def test_media_are_deterministic_and_distinct():
    first = datasets.medium("squares", 32, 0, "train", 5)
    np.testing.assert_array_equal(first, datasets.medium("squares", 32, 0, "train", 5))
    assert not np.array_equal(first, datasets.medium("squares", 32, 0, "train", 6))
    assert not np.array_equal(first, datasets.medium("squares", 32, 0, "test", 5))


def test_families_have_the_papers_properties():
    squares = datasets.medium("squares", 80, 0, "train", 0)
    assert np.allclose(squares / 0.2, np.round(squares / 0.2))  # overlaps add contrasts of 0.2
    assert squares.max() >= 0.2
    axis = np.linspace(-0.5, 0.5, 80)
    radius = np.hypot(*np.meshgrid(axis, axis))
    assert squares[radius > 0.35 + 10 / 79].max() == 0  # centres within 0.35, half-diagonal of a square beyond
    phantom = datasets.medium("shepp_logan", 80, 0, "train", 0)
    assert np.isclose(np.abs(phantom).max(), 1.0)
    assert phantom[radius >= 0.48].max() == 0 and phantom[radius >= 0.48].min() == 0


def test_unknown_family_or_split_is_refused():
    with pytest.raises(ValueError, match="unknown family 'circles'.*squares, triangles, shepp_logan"):
        datasets.medium("circles", 16, 0, "train", 0)
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        datasets.medium("squares", 16, 0, "valid", 0)


def test_parallel_generation_equals_serial():
    serial = datasets.generate(SPEC, workers=1, chunk=2)
    parallel = datasets.generate(SPEC, workers=2, chunk=2)
    for key in serial:
        np.testing.assert_array_equal(serial[key], parallel[key])
    assert serial["data"].shape == (6, 2, 8, 8) and serial["data"].dtype == np.complex64


def test_load_caches_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path))
    first = datasets.load(SPEC, workers=1)

    def refuse(*args, **kwargs):
        raise AssertionError("the cached data set was generated again")

    monkeypatch.setattr(datasets, "generate", refuse)
    second = datasets.load(SPEC, workers=1)
    np.testing.assert_array_equal(first["data"], second["data"])
    entries = list((tmp_path / "wbpd-data").iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no temporary folder left behind


def test_born_operator_matches_the_solver_for_a_weak_scatterer():
    geom = Geometry(n=32, frequencies=(1.0,), n_sources=16, n_receivers=16)
    eta = 0.01 * datasets.medium("squares", 32, 0, "train", 0) / 0.2
    data = forward(eta, geom)[0]
    born = (born_operator(geom, geom.omegas[0]) @ eta.ravel()).reshape(16, 16)
    assert np.linalg.norm(data - born) / np.linalg.norm(data) < 0.03


def test_filtered_back_projection_inverts_born_data_of_a_smooth_medium():
    geom = Geometry(n=16, frequencies=(0.5, 1.0, 2.0), n_sources=16, n_receivers=16)
    axis = np.linspace(-0.5, 0.5, 16)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    eta = 0.1 * np.exp(-((xx - 0.1) ** 2 + yy**2) / 0.02)
    bp = BackProjection(geom)
    data = np.stack([(f @ eta.ravel()).reshape(16, 16) for f in bp.operators])
    recovered = bp.filtered(data, 1e-6)
    assert np.linalg.norm(recovered - eta) / np.linalg.norm(eta) < 0.1
    with pytest.raises(ValueError, match="3 frequencies, 16 receivers, 16 sources"):
        bp.filtered(data[:2], 1e-3)
    with pytest.raises(ValueError, match="must be positive"):
        bp.filtered(data, 0.0)


def test_the_tikhonov_errors_in_the_eigenbasis_are_those_of_the_filtered_images():
    geom = Geometry(n=12, frequencies=(1.0, 2.0), n_sources=10, n_receivers=10)
    bp = BackProjection(geom)
    rng = np.random.default_rng(0)
    target = rng.normal(size=(3, 12, 12))
    data = np.stack([np.stack([(f @ t.ravel()).reshape(10, 10) for f in bp.operators]) for t in target])
    data = data + 0.05 * np.abs(data).mean() * rng.normal(size=data.shape)  # noise: the best eps is not the least
    grid = (1e-6, 1e-4, 1e-2, 1.0)
    direct = [np.mean(rrmse(bp.filtered(data, eps), target)) for eps in grid]
    np.testing.assert_allclose(bp.errors(data, target, grid), direct, rtol=1e-9)
    assert bp.best_eps(data, target, grid) == grid[int(np.argmin(direct))]
    with pytest.raises(ValueError, match="target has shape"):
        bp.errors(data, target[:2], grid)


def test_born_gram_factors_the_explicit_product():
    from alignbook.scattering.backprojection import born_gram

    geom = Geometry(n=12, frequencies=(1.0, 2.0), n_sources=10, n_receivers=10)
    for omega in geom.omegas:
        f = born_operator(geom, omega)
        explicit = (f.conj().T @ f).real
        assert np.allclose(born_gram(geom, omega), explicit, rtol=1e-10, atol=1e-12 * np.abs(explicit).max())
