"""The forward problem: 2-D Helmholtz scattering, solved by finite differences with a complex-stretched PML.

The medium is a perturbation ``eta`` of a unit background speed (c = 1):

    Laplacian(u) + omega^2 (1 + eta(x)) u = 0,        omega = 2 pi f,

on the physical square [-0.5, 0.5]^2 sampled at ``n`` x ``n`` nodes (h = 1 / (n - 1)). A plane wave
``u_in = exp(i omega d.x)`` hits the medium; we solve for the *scattered* field ``u_s = u - u_in``:

    Laplacian(u_s) + omega^2 (1 + eta) u_s = -omega^2 eta u_in,

with outgoing waves absorbed by a perfectly matched layer (PML) around the square: each derivative d/dx becomes
(1/s_x) d/dx with s_x = 1 + i sigma(x) / omega, and sigma grows quadratically into the layer (time convention
exp(-i omega t), so outgoing waves decay inside it).

Discretisation. Multiplying the stretched equation by s_x s_y gives the *symmetric* form

    s_y d/dx (1/s_x d/dx u) + s_x d/dy (1/s_y d/dy u) + s_x s_y omega^2 (1 + eta) u = s_x s_y f,

and each d/dx (m d/dx) is discretised as -D^T diag(m) D with D a staggered first difference of the chosen even
order (nodes -> half nodes). The matrix is therefore complex symmetric for every order, which is why the
discrete problem obeys reciprocity exactly (tested), and it is accurate to O(h^order) on smooth fields.

One sparse LU factorisation per medium and frequency is reused for all plane-wave sources (they are the columns
of one right-hand side). Receivers sit on a circle and read the scattered field by bilinear interpolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache, cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from threadpoolctl import ThreadpoolController

from alignbook.checks import positive_int


@dataclass(frozen=True)
class Geometry:
    """Everything about the experiment except the medium: grid, frequencies, sources, receivers, PML.

    Sources and receivers share the angles theta_j = 2 pi j / count. Receiver j sits at radius
    ``receiver_radius`` in direction theta_j; source j is the plane wave travelling *towards* the centre from
    direction theta_j (d_j = -(cos theta_j, sin theta_j)), so that rotating the medium by one angular step
    rolls both indices of the data by one.
    """

    n: int
    frequencies: tuple[float, ...]
    n_sources: int
    n_receivers: int
    order: int = 4
    pml_thickness: float = 0.25
    pml_strength: float = 80.0
    receiver_radius: float = 0.5
    min_points_per_wavelength: float = 4.0
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 8:
            raise ValueError(f"grid size n must be an int >= 8, got {self.n!r}")
        object.__setattr__(self, "frequencies", tuple(float(f) for f in self.frequencies))
        if not self.frequencies or any(not math.isfinite(f) or f <= 0 for f in self.frequencies):
            raise ValueError(f"frequencies must be a non-empty list of positive numbers, got {self.frequencies}")
        if self.order not in (2, 4, 6, 8):
            raise ValueError(f"finite-difference order must be one of 2, 4, 6, 8, got {self.order!r}")
        for name in ("n_sources", "n_receivers"):
            positive_int(getattr(self, name), name)
        if not 0 < self.receiver_radius <= 0.5:
            raise ValueError(f"receivers must lie inside the physical square: radius in (0, 0.5], "
                             f"got {self.receiver_radius}")
        if self.pml_thickness <= 0 or self.pml_strength <= 0:
            raise ValueError("the PML needs a positive thickness and strength")
        self.check_resolution(0.0)

    @property
    def h(self) -> float:
        return 1.0 / (self.n - 1)

    @property
    def pml_points(self) -> int:
        return max(4, math.ceil(self.pml_thickness / self.h))

    @property
    def extended(self) -> int:
        """Nodes per side of the computational grid: the physical square plus the PML on both sides."""
        return self.n + 2 * self.pml_points

    @property
    def omegas(self) -> np.ndarray:
        return 2 * np.pi * np.asarray(self.frequencies)

    @property
    def angles(self) -> np.ndarray:
        """Angles of receivers (and source origins); their count must match for the data to be square."""
        return 2 * np.pi * np.arange(self.n_receivers) / self.n_receivers

    @property
    def source_angles(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.n_sources) / self.n_sources

    @property
    def coordinates(self) -> np.ndarray:
        """The physical nodes' coordinates along one axis, from -0.5 to 0.5."""
        return np.linspace(-0.5, 0.5, self.n)

    def points_per_wavelength(self, eta_max: float) -> float:
        """Grid points per shortest wavelength inside a medium whose largest perturbation is ``eta_max``."""
        slowest = 1.0 + max(eta_max, 0.0)
        return 1.0 / (max(self.frequencies) * math.sqrt(slowest) * self.h)

    def check_resolution(self, eta_max: float) -> None:
        ppw = self.points_per_wavelength(eta_max)
        if ppw < self.min_points_per_wavelength:
            raise ValueError(
                f"unstable grid: {ppw:.2f} points per wavelength at f = {max(self.frequencies)} with "
                f"max eta = {eta_max:.3g} (n = {self.n}); need at least {self.min_points_per_wavelength}. "
                f"Use a finer grid (n >= {self.min_grid(eta_max)}) or lower frequencies."
            )

    def min_grid(self, eta_max: float) -> int:
        per_unit = max(self.frequencies) * math.sqrt(1.0 + max(eta_max, 0.0)) * self.min_points_per_wavelength
        return math.ceil(per_unit) + 1

    def check_medium(self, eta: np.ndarray) -> np.ndarray:
        """Refuse media that the solver cannot treat faithfully; return it as float64."""
        eta = np.asarray(eta)
        if eta.shape != (self.n, self.n):
            raise ValueError(f"medium has shape {eta.shape}; this geometry needs ({self.n}, {self.n})")
        if not np.isrealobj(eta):
            raise ValueError("the medium eta must be real (an absorbing medium is not modelled)")
        if not np.all(np.isfinite(eta)):
            raise ValueError(f"the medium contains {int((~np.isfinite(eta)).sum())} NaN or infinite values")
        if eta.min() <= -1.0:
            raise ValueError(f"1 + eta must be positive (a real wave speed); min eta is {eta.min():.3g}")
        self.check_resolution(float(eta.max()))
        return eta.astype(np.float64)

    # -- fixed pieces of the discretisation, built once per geometry -------------------------------------
    def _memo(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @cached_property
    def _stencil(self) -> np.ndarray:
        return staggered_coefficients(self.order)

    def grid_axis(self) -> np.ndarray:
        """Coordinates of the computational grid's nodes along one axis (physical square plus PML)."""
        w = self.pml_points
        return -0.5 + (np.arange(self.extended) - w) * self.h

    def stretch(self, x: np.ndarray, omega: float) -> np.ndarray:
        """s(x) = 1 + i sigma(x) / omega, with sigma quadratic in the depth into the layer."""
        depth = np.maximum(np.abs(x) - 0.5, 0.0)
        thickness = (self.pml_points + 1) * self.h  # the layer ends at the Dirichlet ghost node
        sigma = self.pml_strength * (depth / thickness) ** 2
        return 1.0 + 1j * sigma / omega

    def second_derivative(self, omega: float) -> sp.csr_matrix:
        """d/dx (1/s d/dx) on the computational axis, as -D^T diag(1/s at half nodes) D / h^2."""

        def build():
            c = self._stencil
            m = len(c) // 2
            count = self.extended
            # Half nodes k - 1/2 for k = -(m - 1) .. count + m - 1: every half node that touches a real node,
            # so that the operator equals the variable-coefficient stencil on the zero-extended field.
            halves = np.arange(-(m - 1), count + m)
            rows, cols, vals = [], [], []
            for offset, coef in zip(range(-m, m), c, strict=True):
                nodes = halves + offset
                keep = (nodes >= 0) & (nodes < count)
                rows.append(np.nonzero(keep)[0])
                cols.append(nodes[keep])
                vals.append(np.full(keep.sum(), coef))
            d = sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(halves), count)
            )
            x_half = -0.5 + (halves - 0.5 - self.pml_points) * self.h
            inverse_s = sp.diags(1.0 / self.stretch(x_half, omega))
            return (-(d.T @ inverse_s @ d) / self.h**2).tocsr()

        return self._memo(("d2", omega), build)

    def receiver_matrix(self) -> sp.csr_matrix:
        """Bilinear interpolation from the computational grid to the receivers on the circle."""

        def build():
            theta = self.angles
            x = self.receiver_radius * np.cos(theta)
            y = self.receiver_radius * np.sin(theta)
            count, w = self.extended, self.pml_points
            fx, fy = (x + 0.5) / self.h + w, (y + 0.5) / self.h + w
            # Floor with a tolerance: a receiver exactly on a node must not depend on rounding noise.
            ix = np.clip(np.floor(fx + 1e-9), 0, count - 2).astype(int)
            iy = np.clip(np.floor(fy + 1e-9), 0, count - 2).astype(int)
            tx, ty = np.clip(fx - ix, 0, 1), np.clip(fy - iy, 0, 1)
            rows = np.repeat(np.arange(len(theta)), 4)
            cols = np.stack([iy * count + ix, iy * count + ix + 1, (iy + 1) * count + ix, (iy + 1) * count + ix + 1],
                            axis=1).ravel()
            vals = np.stack([(1 - tx) * (1 - ty), tx * (1 - ty), (1 - tx) * ty, tx * ty], axis=1).ravel()
            return sp.csr_matrix((vals, (rows, cols)), shape=(len(theta), count * count))

        return self._memo("receivers", build)

    def incident(self, omega: float) -> np.ndarray:
        """Plane waves exp(i omega d_j . x) on the computational grid, one column per source."""

        def build():
            axis = self.grid_axis()
            yy, xx = np.meshgrid(axis, axis, indexing="ij")
            theta = self.source_angles
            d = -np.stack([np.cos(theta), np.sin(theta)])  # travelling towards the centre
            return np.exp(1j * omega * (xx.reshape(-1, 1) * d[0] + yy.reshape(-1, 1) * d[1]))

        return self._memo(("incident", omega), build)

    def embed(self, eta: np.ndarray) -> np.ndarray:
        """The medium on the computational grid (zero inside the PML), flattened row-major (y, x)."""
        w = self.pml_points
        full = np.zeros((self.extended, self.extended))
        full[w:w + self.n, w:w + self.n] = eta
        return full.ravel()

    def physical(self, field_flat: np.ndarray) -> np.ndarray:
        """Cut the physical square out of a flattened computational-grid field (trailing axes kept)."""
        w, count = self.pml_points, self.extended
        grid = field_flat.reshape(count, count, *field_flat.shape[1:])
        return grid[w:w + self.n, w:w + self.n]


def staggered_coefficients(order: int) -> np.ndarray:
    """Weights of the staggered first derivative of the given even order at offsets -m+1/2 .. m-1/2.

    Solved from the moment conditions sum_j c_j x_j^q = [q == 1] for q < order, so that any even order comes
    from the same three lines instead of a table of magic numbers (order 4 gives 1/24, -9/8, 9/8, -1/24).
    """
    m = order // 2
    offsets = np.arange(-m, m) + 0.5
    powers = np.vander(offsets, order, increasing=True).T
    rhs = np.zeros(order)
    rhs[1] = 1.0
    return np.linalg.solve(powers, rhs)


def helmholtz_matrix(eta: np.ndarray, geom: Geometry, omega: float) -> sp.csc_matrix:
    """The symmetric PML Helmholtz matrix for one medium and one angular frequency."""
    axis = geom.grid_axis()
    s = geom.stretch(axis, omega)
    d2 = geom.second_derivative(omega)
    eye_s = sp.diags(s)
    # Row-major (y, x) unknowns: kron(A_y, A_x) acts with A_y on y and A_x on x.
    laplacian = sp.kron(eye_s, d2) + sp.kron(d2, eye_s)
    mass = np.outer(s, s).ravel() * omega**2 * (1.0 + geom.embed(eta))
    return (laplacian + sp.diags(mass)).tocsc()


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def solve_scattered(eta: np.ndarray, geom: Geometry, omega: float, rhs: np.ndarray | None = None) -> np.ndarray:
    """Scattered fields on the computational grid for all sources (columns), one factorisation.

    ``rhs`` replaces the plane-wave source term (used by the convergence tests' manufactured solutions).
    """
    eta = geom.check_medium(eta)
    if rhs is None:
        # s_x s_y = 1 where eta lives (the physical square), so the right-hand side needs no stretching.
        rhs = -(omega**2) * geom.embed(eta)[:, None] * geom.incident(omega)
    # SuperLU calls BLAS on small blocks: extra threads only spin and fight other processes on a shared CPU,
    # above all when several generator processes solve at once (benchmarks/scattering_throughput.py times it).
    with _blas().limit(limits=1, user_api="blas"):
        lu = splu(helmholtz_matrix(eta, geom, omega), permc_spec="COLAMD")
        return lu.solve(np.ascontiguousarray(rhs, dtype=np.complex128))


def forward(eta: np.ndarray, geom: Geometry) -> np.ndarray:
    """The wideband data: scattered field at each receiver for each source and frequency.

    Returns a complex array of shape (frequencies, receivers, sources).
    """
    receivers = geom.receiver_matrix()
    return np.stack([receivers @ solve_scattered(eta, geom, omega) for omega in geom.omegas])


def total_fields(eta: np.ndarray, geom: Geometry, source: int = 0) -> np.ndarray:
    """Total fields u = u_in + u_s on the physical square for one source, at every frequency (for figures)."""
    fields = []
    for omega in geom.omegas:
        scattered = solve_scattered(eta, geom, omega)[:, source]
        fields.append(geom.physical(scattered + geom.incident(omega)[:, source]))
    return np.stack(fields)


def far_field(eta: np.ndarray, geom: Geometry) -> np.ndarray:
    """Far-field patterns u_inf(x_r; d_s) = omega^2 sum_y exp(-i omega x_r.y) eta(y) u(y; d_s) h^2.

    The quadrature pairs the receiver direction with the incident wave from the opposite side, so for a
    complex-symmetric discrete operator the matrix is exactly symmetric: the discrete form of reciprocity.
    """
    eta = geom.check_medium(eta)
    out = []
    for omega in geom.omegas:
        total = solve_scattered(eta, geom, omega) + geom.incident(omega)
        # exp(-i omega x_r . y) is the incident wave of source r, because d_r = -x_r.
        weights = geom.incident(omega) * (geom.embed(eta) * geom.h**2)[:, None]
        out.append(omega**2 * weights.T @ total)
    return np.stack(out)
