"""Exact solutions the solver is checked against: a penetrable disk (Bessel series) and a manufactured field.

Disk of radius a and constant contrast eta_0 in a unit background, plane wave exp(i k0 d.x) with direction
angle phi_d. Writing the fields as Fourier series in the polar angle, the incident wave has coefficients
i^m J_m(k0 r); outside, the scattered field is sum i^m b_m H_m(k0 r) e^{i m (theta - phi_d)}; inside the field
is sum i^m c_m J_m(k1 r) e^{i m (theta - phi_d)}, k1 = k0 sqrt(1 + eta_0). Continuity of u and du/dr at r = a:

    b_m = (k1 J_m'(k1 a) J_m(k0 a) - k0 J_m'(k0 a) J_m(k1 a)) / (k0 H_m'(k0 a) J_m(k1 a) - k1 J_m'(k1 a) H_m(k0 a)).
"""

from __future__ import annotations

import numpy as np
from scipy.special import h1vp, hankel1, jv, jvp

from alignbook.scattering.helmholtz import Geometry, forward, solve_scattered


def disk_scattered_field(radius: float, contrast: float, omega: float, r: np.ndarray, theta: np.ndarray,
                         direction: float, terms: int = 40) -> np.ndarray:
    """Scattered field of the disk at points (r, theta) outside it, incident direction angle ``direction``."""
    k0, k1, a = omega, omega * np.sqrt(1 + contrast), radius
    field = np.zeros(np.broadcast(r, theta).shape, dtype=complex)
    for m in range(-terms, terms + 1):
        numerator = k1 * jvp(m, k1 * a) * jv(m, k0 * a) - k0 * jvp(m, k0 * a) * jv(m, k1 * a)
        denominator = k0 * h1vp(m, k0 * a) * jv(m, k1 * a) - k1 * jvp(m, k1 * a) * hankel1(m, k0 * a)
        field += 1j**m * numerator / denominator * hankel1(m, k0 * r) * np.exp(1j * m * (theta - direction))
    return field


def disk_medium(n: int, radius: float, contrast: float, supersample: int = 8) -> np.ndarray:
    """The disk sampled by the fraction of each node's cell it covers (plain point sampling would add a
    staircase error of order h that hides the scheme's order)."""
    axis = np.linspace(-0.5, 0.5, n)
    h = axis[1] - axis[0]
    offsets = ((np.arange(supersample) + 0.5) / supersample - 0.5) * h
    x = axis[None, :, None, None] + offsets[None, None, None, :]
    y = axis[:, None, None, None] + offsets[None, None, :, None]
    return contrast * ((x**2 + y**2) < radius**2).mean(axis=(2, 3))


def disk_error(n: int, order: int = 2, frequency: float = 2.0, radius: float = 0.15, contrast: float = 0.2,
               receivers: int = 16) -> float:
    """Relative error of the solver's receiver data against the Bessel series (first source)."""
    geom = Geometry(n=n, frequencies=(frequency,), n_sources=1, n_receivers=receivers, order=order)
    data = forward(disk_medium(n, radius, contrast), geom)[0, :, 0]
    # Source 0 comes from angle 0 travelling towards the centre: its direction angle is pi.
    exact = disk_scattered_field(radius, contrast, geom.omegas[0], geom.receiver_radius, geom.angles, np.pi)
    return float(np.linalg.norm(data - exact) / np.linalg.norm(exact))


def manufactured_error(n: int, order: int, frequency: float = 2.0, width: float = 0.07) -> float:
    """Max relative error for a smooth manufactured scattered field in a smooth medium.

    u = exp(-r^2 / 2 w^2) is (numerically) zero at the PML, so the source f = Laplacian(u) + omega^2 (1 + eta) u
    makes u the exact solution; the error then measures the stencil's order alone.
    """
    geom = Geometry(n=n, frequencies=(frequency,), n_sources=1, n_receivers=4, order=order)
    axis = geom.grid_axis()
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    r2 = xx**2 + yy**2
    exact = np.exp(-r2 / (2 * width**2))
    eta = 0.3 * np.exp(-r2 / (2 * 0.15**2))
    omega = geom.omegas[0]
    source = exact * (r2 / width**4 - 2 / width**2) + omega**2 * (1 + eta) * exact
    eta_physical = geom.physical(eta.ravel())
    computed = solve_scattered(eta_physical, geom, omega, rhs=source.reshape(-1, 1))[:, 0]
    return float(np.abs(computed - exact.ravel()).max() / np.abs(exact).max())
