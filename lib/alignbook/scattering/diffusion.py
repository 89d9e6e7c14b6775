"""The conditional diffusion model: tangent noise schedule, EDM preconditioning, weighted loss, EM sampler.

Noise schedule (variance preserving, tangent): sigma(t) = sigma_max tan(1.5 t) / tan(1.5) for t in (0, 1], and
the noisy state is x_t = s(t) (x_0 + sigma(t) eps) with s(t) = 1 / sqrt(1 + sigma(t)^2 / sigma_data^2), so
that Var x_t stays ~1. The denoiser only ever sees x_t / s(t) = x_0 + sigma eps (EDM's c_in rescales it
again), so we work in those coordinates; s(t) matters for the *initial* state of the sampler, whose variance
is sigma_max^2 + sigma_data^2.

EDM preconditioning (Karras et al. 2022) with sigma_data = 1:

    D(x, sigma) = c_skip x + c_out F(c_in x, c_noise),  c_skip = sd^2/(sigma^2 + sd^2),
    c_out = sigma sd / sqrt(sigma^2 + sd^2),  c_in = 1 / sqrt(sigma^2 + sd^2),  c_noise = log(sigma) / 4,

trained with the weighted loss lambda(sigma) ||D(x_0 + sigma eps, sigma) - x_0||^2, lambda = (1 + sigma^2) /
sigma^2 (= 1 / c_out^2 at sd = 1, so every noise level contributes equally).

Sampler: Euler-Maruyama on the reverse SDE dx = -2 sigma sigma' score dt + sqrt(2 sigma sigma') dW, with
score = (D(x, sigma) - x) / sigma^2, on a uniform grid in t from 1 to t_min, then one last denoising step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from alignbook.scattering.denoiser import ConditionalCNN
from alignbook.scattering.equinet import BackProjectionLatents

SIGMA_DATA = 1.0


class TangentSchedule:
    """sigma(t) = sigma_max tan(a t) / tan(a), a = 1.5: slow near t = 0 where the fine details are decided."""

    def __init__(self, sigma_max: float = 100.0, a: float = 1.5, t_min: float = 1e-3):
        self.sigma_max, self.a, self.t_min = sigma_max, a, t_min

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_max * torch.tan(self.a * t) / math.tan(self.a)

    def sigma_derivative(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_max * self.a / torch.cos(self.a * t) ** 2 / math.tan(self.a)

    def scale(self, t: torch.Tensor) -> torch.Tensor:
        """s(t) of the variance-preserving form (exposed for readers; the coordinates above absorb it)."""
        return 1.0 / torch.sqrt(1.0 + self.sigma(t) ** 2 / SIGMA_DATA**2)


class ConditionalDenoiser(nn.Module):
    """Back-projection latents + the conditional CNN, wrapped in EDM preconditioning."""

    def __init__(self, latents: BackProjectionLatents, width: int, blocks: int):
        super().__init__()
        self.latents = latents
        self.net = ConditionalCNN(latents.frequencies, width=width, blocks=blocks)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """D(x, sigma | latents); ``condition`` are the Cartesian latents (computed once per data batch)."""
        s = sigma.view(-1, 1, 1, 1)
        total = s**2 + SIGMA_DATA**2
        c_skip, c_out, c_in = SIGMA_DATA**2 / total, s * SIGMA_DATA / total.sqrt(), 1 / total.sqrt()
        return c_skip * x + c_out * self.net(c_in * x, condition, torch.log(sigma) / 4)

    def predict(self, condition: torch.Tensor) -> torch.Tensor:
        """The deterministic use of the same network: no noisy image, a fixed noise code (trained with MSE)."""
        empty = condition.new_zeros(len(condition), 1, *condition.shape[-2:])
        return self.net(empty, condition, condition.new_zeros(len(condition)))


def denoising_loss(model: ConditionalDenoiser, schedule: TangentSchedule, target: torch.Tensor,
                   data: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The weighted denoising loss at noise levels sigma(t), t ~ U(t_min, 1)."""
    t = schedule.t_min + (1 - schedule.t_min) * torch.rand(len(target), generator=generator, device="cpu")
    t = t.to(target.device)
    noise = torch.randn(target.shape, generator=generator, device="cpu").to(target.device)
    sigma = schedule.sigma(t)
    denoised = model(target + sigma.view(-1, 1, 1, 1) * noise, sigma, model.latents(data))
    weight = (1 + sigma**2) / sigma**2
    return (weight * ((denoised - target) ** 2).mean(dim=(1, 2, 3))).mean()


@torch.no_grad()
def sample(model: ConditionalDenoiser, schedule: TangentSchedule, data: torch.Tensor, samples: int, steps: int,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Posterior samples for each data item: returns (samples, batch, n, n)."""
    if steps < 2 or samples < 1:
        raise ValueError(f"need at least 2 sampler steps and 1 sample, got steps={steps}, samples={samples}")
    condition = model.latents(data).repeat(samples, 1, 1, 1)
    n = condition.shape[-1]
    shape = (len(condition), 1, n, n)
    times = torch.linspace(1.0, schedule.t_min, steps + 1)
    start = math.sqrt(schedule.sigma_max**2 + SIGMA_DATA**2)
    x = start * torch.randn(shape, generator=generator).to(data.device)
    for t_now, t_next in zip(times[:-1], times[1:], strict=True):
        sigma = schedule.sigma(t_now)
        dt = t_now - t_next  # positive: integrating backwards in time
        g2 = 2 * sigma * schedule.sigma_derivative(t_now)
        sigmas = torch.full((len(x),), float(sigma), device=x.device)
        score = (model(x, sigmas, condition) - x) / sigma**2
        noise = torch.randn(shape, generator=generator).to(x.device)
        x = x + g2 * score * dt + torch.sqrt(g2 * dt) * noise
    final = torch.full((len(x),), float(schedule.sigma(times[-1])), device=x.device)
    x = model(x, final, condition)
    return x.reshape(samples, len(data), n, n)


def count_parameters(n: int, frequencies: int, width: int, blocks: int) -> dict[str, int]:
    """Trainable parameters of the EquiNet diffusion model at resolution n (n angles and n radii), built for
    real but without the Cartesian interpolation matrix (which is fixed, not learned, and large at big n)."""
    from alignbook.scattering.equinet import EquiNetLatent

    latent = sum(p.numel() for p in EquiNetLatent(n, n).parameters()) * frequencies
    cnn = sum(p.numel() for p in ConditionalCNN(frequencies, width=width, blocks=blocks).parameters())
    return {"n": n, "pixels": n * n, "latents": latent, "cnn": cnn, "total": latent + cnn}
