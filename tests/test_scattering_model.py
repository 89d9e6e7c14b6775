"""EquiNet, the diffusion model, training and metrics: exact symmetries, counts and known values."""

import numpy as np
import pytest
import torch

from alignbook.scattering import metrics
from alignbook.scattering.backprojection import greens_function
from alignbook.scattering.diffusion import ConditionalDenoiser, TangentSchedule, count_parameters, sample
from alignbook.scattering.equinet import (
    BackProjectionLatents,
    EquiNetLatent,
    analytic_kernels,
    equinet_parameters,
    polar_radii,
    polar_to_cartesian,
)
from alignbook.scattering.helmholtz import Geometry
from alignbook.scattering.train import fit

GEOM = Geometry(n=16, frequencies=(0.5, 1.0), n_sources=12, n_receivers=12)


def random_data(batch: int, frequencies: int = 2, m: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(batch, frequencies, m, m, generator=g), torch.randn(batch, frequencies, m, m,
                                                                                          generator=g))


def test_equinet_latent_is_exactly_rotation_equivariant():
    latent = EquiNetLatent(12, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        latent.bias_receiver.normal_()  # biases too: a non-zero offset must not break the symmetry
        latent.bias_radius.normal_()
    data = random_data(3)[:, 0]
    for step in (1, 5):
        rotated = latent(torch.roll(data, (step, step), dims=(1, 2)))
        assert torch.equal(rotated, torch.roll(latent(data), step, dims=1))
    # and it is not trivially invariant
    assert not torch.allclose(latent(torch.roll(data, (1, 1), dims=(1, 2))), latent(data))


@pytest.mark.parametrize("n", [8, 16, 80])
def test_parameter_count_matches_the_formula(n):
    latent = EquiNetLatent(n, n)
    assert sum(p.numel() for p in latent.parameters()) == equinet_parameters(n) == 8 * n * n + 8 * n
    counts = count_parameters(n, 3, 16, 2)
    assert counts["latents"] == 3 * (8 * n * n + 8 * n) and counts["total"] == counts["latents"] + counts["cnn"]


def test_analytic_kernel_is_the_adjoint_of_the_born_map():
    omega, n_radii = GEOM.omegas[1], 5
    p, q = analytic_kernels(GEOM, omega, n_radii)
    latent = EquiNetLatent(12, n_radii, rank=1, init=(p, q))
    data = random_data(1)[:, 0]
    values = latent(data)[0].detach().double().numpy()  # (angles, radii)
    # Direct F^H Lambda at each polar point x = rho (cos theta_i, sin theta_i).
    receivers = 0.5 * np.stack([np.cos(GEOM.angles), np.sin(GEOM.angles)], axis=1)
    directions = -receivers / 0.5
    lam = data[0].numpy().astype(complex)
    direct = np.empty_like(values)
    for i, theta in enumerate(GEOM.angles):
        for j, rho in enumerate(polar_radii(n_radii)):
            x = rho * np.array([np.cos(theta), np.sin(theta)])
            green = omega**2 * greens_function(omega, np.linalg.norm(receivers - x, axis=1))
            kernel = green[:, None] * np.exp(1j * omega * directions @ x)[None, :]
            direct[i, j] = (np.conj(kernel) * lam).sum().real
    ratio = values / direct
    assert np.std(ratio) < 1e-4 * np.abs(np.mean(ratio))


def test_polar_to_cartesian_preserves_constants_inside_the_circle():
    matrix = polar_to_cartesian(16, 12, 6)
    axis = np.linspace(-0.5, 0.5, 16)
    radius = np.hypot(*np.meshgrid(axis, axis)).ravel()
    np.testing.assert_allclose(matrix[radius <= 0.5].sum(axis=1), 1.0, atol=1e-12)
    assert np.all(matrix[radius > 0.5] == 0)


def test_tangent_schedule_values():
    schedule = TangentSchedule()
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    sigma = schedule.sigma(t)
    assert sigma[0] == 0 and torch.isclose(sigma[2], torch.tensor(100.0, dtype=torch.float64))
    numeric = (schedule.sigma(t + 1e-6) - schedule.sigma(t - 1e-6)) / 2e-6
    torch.testing.assert_close(schedule.sigma_derivative(t)[:2], numeric[:2], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(schedule.scale(t), 1 / torch.sqrt(1 + sigma**2))


def test_preconditioning_keeps_the_input_at_small_noise():
    model = ConditionalDenoiser(BackProjectionLatents(GEOM, 6), width=8, blocks=1)
    x = torch.randn(2, 1, 16, 16)
    condition = torch.zeros(2, 2, 16, 16)
    tiny = model(x, torch.full((2,), 1e-6), condition)
    torch.testing.assert_close(tiny, x, atol=1e-4, rtol=0)  # c_skip -> 1, c_out -> 0


def test_sampler_is_deterministic_for_a_seed_and_checks_its_arguments():
    model = ConditionalDenoiser(BackProjectionLatents(GEOM, 6), width=8, blocks=1).eval()
    data = random_data(2)
    first = sample(model, TangentSchedule(), data, 3, 4, torch.Generator().manual_seed(0))
    again = sample(model, TangentSchedule(), data, 3, 4, torch.Generator().manual_seed(0))
    assert first.shape == (3, 2, 16, 16) and torch.equal(first, again)
    with pytest.raises(ValueError, match="at least 2 sampler steps"):
        sample(model, TangentSchedule(), data, 3, 1)
    with pytest.raises(ValueError, match=r"data must be \(batch, 2 frequencies"):
        model.latents(random_data(2, frequencies=3))


def test_training_reduces_the_loss_and_rejects_bad_input():
    torch.manual_seed(0)
    model = ConditionalDenoiser(BackProjectionLatents(GEOM, 6), width=8, blocks=1)
    data = random_data(16)
    target = model.latents(data).detach()[:, :1] * 3  # a target the latents can explain
    _, losses = fit(model, "mse", target, data, steps=30, batch=8, peak_lr=3e-3, seed=0)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    with pytest.raises(ValueError, match="unknown objective 'l1'.*diffusion, mse"):
        fit(model, "l1", target, data, steps=2, batch=2, peak_lr=1e-3, seed=0)
    with pytest.raises(ValueError, match="16 targets but 15 data items"):
        fit(model, "mse", target, data[:15], steps=2, batch=2, peak_lr=1e-3, seed=0)
    with pytest.raises(ValueError, match="unknown latent"):
        BackProjectionLatents(GEOM, 6, kind="butterfly")


def test_metrics_known_values():
    truth = np.ones((1, 4, 4))
    np.testing.assert_allclose(metrics.rrmse(truth * 1.1, truth), [0.1])
    ensemble = np.stack([np.zeros((1, 4, 4)), 2 * np.ones((1, 4, 4))])
    np.testing.assert_allclose(metrics.crps(ensemble, truth), [0.5])  # E|X-y| = 1, E|X-X'| / 2 = 0.5
    np.testing.assert_allclose(metrics.crps(truth[None] * 3, truth), [2.0])  # one member: absolute error
    image = np.random.default_rng(0).normal(size=(2, 16, 16))
    np.testing.assert_allclose(metrics.spectrum_log_ratio(image, image), 0.0, atol=1e-12)
    np.testing.assert_allclose(metrics.spectrum_log_ratio(2 * image, image), np.log(4), rtol=1e-6)
    with pytest.raises(ValueError, match="estimate has shape"):
        metrics.rrmse(truth[:, :2], truth)
    with pytest.raises(ValueError, match="samples must be"):
        metrics.crps(truth, truth)


def test_trainings_in_worker_processes_match_the_same_trainings_here():
    from alignbook.scattering.train import fit_in_workers

    data = random_data(16)
    jobs = []
    for objective in ("diffusion", "mse"):
        torch.manual_seed(0)
        model = ConditionalDenoiser(BackProjectionLatents(GEOM, 6), width=8, blocks=1)
        target = model.latents(data).detach()[:, :1] * 3
        jobs.append(dict(model=model, objective=objective, target=target, data=data, steps=4, batch=8,
                         peak_lr=3e-3, seed=0))
    apart = fit_in_workers(jobs, workers=2)  # first: the workers train copies, the jobs' models stay untouched
    here = fit_in_workers(jobs, workers=1)
    for (m1, l1, s1), (m2, l2, s2) in zip(here, apart, strict=True):
        assert l1 == l2 and s1 > 0 and s2 > 0  # bit for bit: each fit seeds its own generator, one thread each
        for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
            assert torch.equal(p1, p2)
