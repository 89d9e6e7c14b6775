"""EquiNet: a learned, rotation-equivariant back-projection from one frequency's data to a latent image.

Symmetry. Sources and receivers share the angles theta_j = 2 pi j / m. Rotating the medium by one angular step
rolls both indices of the data matrix by one. So a back-projection that computes the image value at angle
theta_i from the data *rolled by (-i, -i)* with the *same* weights for every i commutes with that rotation:
it is equivariant by construction. The image therefore lives on a polar grid (m angles x n_rho radii) and is
mapped to the Cartesian grid by a fixed bilinear interpolation matrix.

Kernel. For image angle i and radius rho (Lambda_i = Lambda rolled by (-i, -i)),

    t_k(rho, a)     = sum_b Q_k(rho, b) Lambda_i[a, b] + beta_k(a) + beta'_k(rho)
    alpha(theta_i, rho) = Re sum_k sum_a P_k(rho, a) t_k(rho, a),        k = 1, 2,

with complex P_k, Q_k (m x m when n_rho = m) and complex biases: 2 x (2 m^2 + 2 m^2 + 2 m + 2 m) =
8 m^2 + 8 m real parameters per frequency, the paper's count. The analytic back-projection F^H Lambda is the
rank-one case P_1(rho, a) = conj(omega^2 G(x_a, rho e_0)), Q_1(rho, b) = conj(exp(i omega d_b . rho e_0))
(``analytic_kernels``): the learned latent starts there, and the "analytic latent" baseline is that kernel
frozen.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from alignbook.scattering.backprojection import greens_function
from alignbook.scattering.helmholtz import Geometry


def polar_radii(n_radii: int, radius: float = 0.5) -> np.ndarray:
    return (np.arange(n_radii) + 0.5) * radius / n_radii


def analytic_kernels(geom: Geometry, omega: float, n_radii: int) -> tuple[np.ndarray, np.ndarray]:
    """P and Q (each n_radii x m) of the analytic back-projection at image angle 0, scaled to O(1/m)."""
    rho = polar_radii(n_radii)
    theta = geom.angles
    receivers = geom.receiver_radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    points = np.stack([rho, np.zeros_like(rho)], axis=1)
    distance = np.linalg.norm(points[:, None, :] - receivers[None, :, :], axis=-1)
    p = np.conj(omega**2 * greens_function(omega, distance))
    # Incident direction d_b = -(cos theta_b, sin theta_b): exp(i omega d_b . (rho, 0)) = exp(-i omega rho cos).
    q = np.conj(np.exp(-1j * omega * rho[:, None] * np.cos(geom.source_angles)[None, :]))
    m = len(theta)
    return p / np.abs(p).mean() / m, q / m


def polar_to_cartesian(n: int, n_angles: int, n_radii: int, radius: float = 0.5) -> np.ndarray:
    """Bilinear interpolation (periodic in angle) from the polar grid to the n x n Cartesian nodes.

    Returns a dense (n * n, n_angles * n_radii) matrix; pixels beyond ``radius`` get zero (no latent there).
    """
    axis = np.linspace(-0.5, 0.5, n)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    r = np.hypot(xx, yy).ravel()
    phi = np.mod(np.arctan2(yy, xx).ravel(), 2 * np.pi)
    step_r = radius / n_radii
    fr = np.clip(r / step_r - 0.5, 0, n_radii - 1)  # radii sit at cell centres; clamp inside the first/last
    j0 = np.minimum(np.floor(fr).astype(int), n_radii - 2)
    tr = fr - j0
    fa = phi / (2 * np.pi / n_angles)
    i0 = np.floor(fa).astype(int) % n_angles
    ta = fa - np.floor(fa)
    i1 = (i0 + 1) % n_angles
    matrix = np.zeros((n * n, n_angles * n_radii))
    rows = np.arange(n * n)
    for ia, wa in ((i0, 1 - ta), (i1, ta)):
        for jr, wr in ((j0, 1 - tr), (j0 + 1, tr)):
            np.add.at(matrix, (rows, ia * n_radii + jr), wa * wr)
    matrix[r > radius] = 0.0
    return matrix


def rolled_stack(data: torch.Tensor) -> torch.Tensor:
    """(B, m, m) -> (B, m, m, m): entry [:, i, a, b] = data[:, (a + i) % m, (b + i) % m]."""
    m = data.shape[-1]
    index = (torch.arange(m, device=data.device)[:, None] + torch.arange(m, device=data.device)[None, :]) % m
    return data[:, index[:, :, None], index[:, None, :]]


class EquiNetLatent(nn.Module):
    """The latent of one frequency on the polar grid: (B, m, m) complex data -> (B, m angles, n_radii) real."""

    def __init__(self, n_angles: int, n_radii: int, rank: int = 2, init: tuple[np.ndarray, np.ndarray] | None = None,
                 trainable: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        shape = (rank, n_radii, n_angles)
        # A small random start for the ranks the analytic kernel does not fill: zero would block their gradient.
        p = 0.01 / n_angles * torch.randn(*shape, 2, generator=generator)
        q = 1.0 / n_angles * torch.randn(*shape, 2, generator=generator)
        if init is not None:
            p[0] = torch.view_as_real(torch.as_tensor(init[0], dtype=torch.complex64))
            q[0] = torch.view_as_real(torch.as_tensor(init[1], dtype=torch.complex64))
        self.p = nn.Parameter(p, requires_grad=trainable)
        self.q = nn.Parameter(q, requires_grad=trainable)
        self.bias_receiver = nn.Parameter(torch.zeros(rank, n_angles, 2), requires_grad=trainable)
        self.bias_radius = nn.Parameter(torch.zeros(rank, n_radii, 2), requires_grad=trainable)

    def kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The full kernel K(rho; a, b) = sum_k P_k(rho, a) Q_k(rho, b) and the offset each radius gets.

        Contracting the data with K in one matrix product is much faster than the two-stage sum; because the
        map is linear, the biases reach the output only through one complex offset per radius.
        """
        p, q = torch.view_as_complex(self.p), torch.view_as_complex(self.q)
        kernel = torch.einsum("kra,krb->rab", p, q)
        beta_receiver = torch.view_as_complex(self.bias_receiver)
        beta_radius = torch.view_as_complex(self.bias_radius)
        offset = torch.einsum("kra,ka->r", p, beta_receiver) + (p.sum(dim=2) * beta_radius).sum(dim=0)
        return kernel, offset

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        m = self.p.shape[-2]
        if data.dim() != 3 or tuple(data.shape[-2:]) != (m, m):
            raise ValueError(f"EquiNet expects data of shape (batch, {m}, {m}), got {tuple(data.shape)}")
        kernel, offset = self.kernel()
        rolled = rolled_stack(data).flatten(2)  # (B, angles, m * m)
        # Re(Lambda K) = Re Lambda Re K - Im Lambda Im K, as one real matrix product.
        flat = torch.cat([rolled.real, -rolled.imag], dim=2)
        weights = torch.cat([kernel.real.flatten(1), kernel.imag.flatten(1)], dim=1).T  # (2 m^2, radii)
        return flat @ weights + offset.real


def equinet_parameters(n: int) -> int:
    """The paper's count for one frequency with n angles and n radii: 8 n^2 + 8 n."""
    return 8 * n * n + 8 * n


class BackProjectionLatents(nn.Module):
    """One latent per frequency, each mapped to the Cartesian grid: (B, F, m, m) -> (B, F, n, n)."""

    def __init__(self, geom: Geometry, n_radii: int, kind: str = "equinet", seed: int = 0):
        super().__init__()
        if kind not in ("equinet", "analytic"):
            raise ValueError(f"unknown latent {kind!r}; valid latents are: equinet, analytic")
        if geom.n_sources != geom.n_receivers:
            raise ValueError("EquiNet needs as many sources as receivers (a square data matrix)")
        generator = torch.Generator().manual_seed(seed)
        learned = kind == "equinet"
        self.kind, self.n, self.frequencies = kind, geom.n, len(geom.frequencies)
        self.latents = nn.ModuleList(
            EquiNetLatent(geom.n_receivers, n_radii, rank=2 if learned else 1, trainable=learned,
                          init=analytic_kernels(geom, omega, n_radii), generator=generator)
            for omega in geom.omegas
        )
        self.register_buffer("to_cartesian", torch.as_tensor(
            polar_to_cartesian(geom.n, geom.n_receivers, n_radii), dtype=torch.float32))

    def polar(self, data: torch.Tensor) -> torch.Tensor:
        if data.dim() != 4 or data.shape[1] != self.frequencies:
            raise ValueError(f"data must be (batch, {self.frequencies} frequencies, m, m), got {tuple(data.shape)}")
        return torch.stack([latent(data[:, k]) for k, latent in enumerate(self.latents)], dim=1)

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        polar = self.polar(data)
        flat = polar.flatten(2) @ self.to_cartesian.T
        return flat.reshape(len(data), self.frequencies, self.n, self.n)
