"""Back-projection baselines: the adjoint of the linearised (Born) data map and its Tikhonov-filtered version.

Linearising the scattered field in eta (first Born approximation) gives, for receiver r and source s,

    Lambda[r, s] ~ omega^2 sum_y G(x_r, y) eta(y) exp(i omega d_s . y) h^2,     G = (i/4) H_0^(1)(omega |x - y|),

a linear map F from the medium to the data (stacked over frequencies). Back-projection is its adjoint F^H; the
filtered back-projection (FBP) is the Tikhonov-regularised least-squares solution

    eta_fbp = (Re F^H F + eps I)^(-1) Re F^H Lambda     (eta is real, hence the real parts),

computed here through one eigendecomposition of the Gram matrix so that any eps costs a matrix product.
"""

from __future__ import annotations

import numpy as np
from scipy.special import hankel1

from alignbook.scattering.helmholtz import Geometry

# Tikhonov parameters tried by best_eps, relative to the largest eigenvalue of the Gram matrix.
EPS_GRID = tuple(np.logspace(-6, 0, 25))


def greens_function(omega: float, distance: np.ndarray) -> np.ndarray:
    """Outgoing free-space Green's function of Laplacian + omega^2 in two dimensions."""
    return 0.25j * hankel1(0, omega * distance)


def _born_factors(geom: Geometry, omega: float) -> tuple[np.ndarray, np.ndarray, float]:
    """F[(r, s), p] = c G[r, p] U[p, s]: the receivers' Green's functions G (receivers, pixels), the incident
    plane waves U (pixels, sources) and the constant c = omega^2 h^2."""
    axis = geom.coordinates
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    pixels = np.stack([xx.ravel(), yy.ravel()], axis=1)
    receivers = geom.receiver_radius * np.stack([np.cos(geom.angles), np.sin(geom.angles)], axis=1)
    distance = np.linalg.norm(receivers[:, None, :] - pixels[None, :, :], axis=-1)
    green = greens_function(omega, distance)  # (receivers, pixels)
    theta = geom.source_angles
    incident = np.exp(-1j * omega * (pixels @ np.stack([np.cos(theta), np.sin(theta)])))  # (pixels, sources)
    return green, incident, omega**2 * geom.h**2


def born_operator(geom: Geometry, omega: float) -> np.ndarray:
    """F for one frequency: shape (receivers * sources, n * n), pixels row-major (y, x)."""
    green, incident, c = _born_factors(geom, omega)
    return (c * green[:, None, :] * incident.T[None, :, :]).reshape(-1, green.shape[1])


def born_gram(geom: Geometry, omega: float) -> np.ndarray:
    """Re F^H F for one frequency, (n * n, n * n). F's entries are products c G[r, p] U[p, s], so the sum over
    receivers and sources factors: (F^H F)[p, q] = c^2 (G^H G)[p, q] (U U^H)^*[p, q], two products of
    (pixels x 80) matrices instead of one of (6,400 x 6,400) at n = 80: 40 times fewer operations."""
    green, incident, c = _born_factors(geom, omega)
    return (c**2 * (green.conj().T @ green) * (incident.conj() @ incident.T)).real


class BackProjection:
    """Adjoint and filtered back-projection for one geometry (all its frequencies together)."""

    def __init__(self, geom: Geometry):
        self.geom = geom
        self.operators = [born_operator(geom, omega) for omega in geom.omegas]
        gram = sum(born_gram(geom, omega) for omega in geom.omegas)
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(gram)
        self.scale = float(self.eigenvalues.max())

    def _check(self, data: np.ndarray) -> np.ndarray:
        data = np.asarray(data)
        g = self.geom
        expected = (len(g.frequencies), g.n_receivers, g.n_sources)
        if data.shape[-3:] != expected:
            raise ValueError(f"data have shape {data.shape}; this geometry needs (..., {expected[0]} frequencies, "
                             f"{expected[1]} receivers, {expected[2]} sources)")
        return data

    def adjoint(self, data: np.ndarray) -> np.ndarray:
        """Re F^H Lambda as images (..., n, n)."""
        data = self._check(data)
        lead = data.shape[:-3]
        flat = data.reshape(-1, data.shape[-3], data.shape[-2] * data.shape[-1])
        out = sum((flat[:, k] @ f.conj()).real for k, f in enumerate(self.operators))
        return out.reshape(*lead, self.geom.n, self.geom.n)

    def filtered(self, data: np.ndarray, eps: float) -> np.ndarray:
        """(Re F^H F + eps * max eigenvalue * I)^(-1) Re F^H Lambda; ``eps`` is relative, so it is unit-free."""
        if not eps > 0:
            raise ValueError(f"the Tikhonov parameter must be positive, got {eps}")
        back = self.adjoint(data)
        lead = back.shape[:-2]
        flat = back.reshape(-1, self.geom.n**2)
        v = self.eigenvectors
        gain = 1.0 / (self.eigenvalues + eps * self.scale)
        out = ((flat @ v) * gain) @ v.T
        return out.reshape(*lead, self.geom.n, self.geom.n)

    def errors(self, data: np.ndarray, target: np.ndarray, grid: tuple[float, ...] = EPS_GRID) -> np.ndarray:
        """The mean relative error of the filtered back-projection on (training) examples at each Tikhonov
        parameter of ``grid``: ``rrmse(filtered(data, eps), target)`` averaged over the examples. The
        eigenvectors are orthonormal, so each error is measured in their basis: two products for the whole grid
        instead of two per value (at n = 80, 25 values took 50 products of 6,400 x 6,400)."""
        if not all(eps > 0 for eps in grid):
            raise ValueError(f"the Tikhonov parameters must be positive, got {grid}")
        back = self.adjoint(data)
        target = np.asarray(target, dtype=float)
        if target.shape != back.shape:
            raise ValueError(f"target has shape {target.shape}; the data give images of shape {back.shape}")
        v = self.eigenvectors
        coefficients = back.reshape(-1, self.geom.n**2) @ v
        truth = target.reshape(-1, self.geom.n**2)
        goal, norms = truth @ v, np.linalg.norm(truth, axis=1)
        return np.array([np.mean(np.linalg.norm(coefficients / (self.eigenvalues + eps * self.scale) - goal,
                                                axis=1) / norms) for eps in grid])

    def best_eps(self, data: np.ndarray, target: np.ndarray, grid: tuple[float, ...] = EPS_GRID) -> float:
        """The Tikhonov parameter with the smallest mean relative error on (training) examples."""
        return float(grid[int(np.argmin(self.errors(data, target, grid)))])

