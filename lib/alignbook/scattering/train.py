"""Training and inference loops, kept apart from the models: normalisation, Adam with warmup-cosine, EMA.

Two objectives share one loop (a registry, not an if/else over names): ``diffusion`` (the weighted denoising
loss, EMA weights) and ``mse`` (the deterministic EquiNet baseline: the same latents and CNN, trained to
predict the medium directly).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from alignbook.scattering.diffusion import ConditionalDenoiser, TangentSchedule, denoising_loss, sample


@dataclass
class Normaliser:
    """eta: per-pixel mean and one global std (as the paper); data: one std per frequency."""

    eta_mean: np.ndarray
    eta_std: float
    data_std: np.ndarray

    @classmethod
    def fit(cls, target: np.ndarray, data: np.ndarray) -> Normaliser:
        mean = target.mean(axis=0)
        return cls(mean, float((target - mean).std()), np.abs(data).std(axis=(0, 2, 3)))

    def eta(self, target: np.ndarray) -> np.ndarray:
        return ((target - self.eta_mean) / self.eta_std).astype(np.float32)

    def eta_inverse(self, normalised: np.ndarray) -> np.ndarray:
        return normalised * self.eta_std + self.eta_mean

    def data(self, data: np.ndarray) -> np.ndarray:
        return (data / self.data_std[None, :, None, None]).astype(np.complex64)


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warmup to ``peak``, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of the weights; the decay ramps up so early averages are not stuck at init."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = copy.deepcopy(model).eval(), decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for mine, theirs in zip(self.model.parameters(), model.parameters(), strict=True):
            mine.lerp_(theirs, 1 - decay)


def _diffusion_loss(model, target, data, generator, schedule):
    return denoising_loss(model, schedule, target, data, generator)


def _mse_loss(model, target, data, generator, schedule):
    return ((model.predict(model.latents(data)) - target) ** 2).mean()


OBJECTIVES: dict[str, Callable[..., torch.Tensor]] = {"diffusion": _diffusion_loss, "mse": _mse_loss}


def fit(model: ConditionalDenoiser, objective: str, target: torch.Tensor, data: torch.Tensor, steps: int,
        batch: int, peak_lr: float, seed: int, ema_decay: float = 0.999, schedule: TangentSchedule | None = None,
        progress: Callable | None = None) -> tuple[ConditionalDenoiser, list[float]]:
    """Train ``model`` in place; return the weights to use (EMA for diffusion) and the loss per step."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid objectives are: {', '.join(OBJECTIVES)}")
    if len(target) != len(data):
        raise ValueError(f"{len(target)} targets but {len(data)} data items")
    if target.dim() != 4 or target.shape[1] != 1:
        raise ValueError(f"targets must be (batch, 1, n, n), got {tuple(target.shape)}")
    schedule = schedule or TangentSchedule()
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=peak_lr)
    ema = EMA(model, ema_decay) if objective == "diffusion" else None
    warmup = max(1, steps // 20)
    losses = []
    model.train()
    steps_iter = range(steps) if progress is None else progress(range(steps), total=steps, desc=objective)
    for step in steps_iter:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, warmup)
        index = torch.randint(len(target), (batch,), generator=generator).to(target.device)
        loss = OBJECTIVES[objective](model, target[index], data[index], generator, schedule)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        if ema is not None:
            ema.update(model, step)
        losses.append(loss.item())
    model.eval()
    return (ema.model if ema is not None else model), losses


def _timed_fit(job: dict) -> tuple[ConditionalDenoiser, list[float], float]:
    start = time.perf_counter()
    model, losses = fit(**job)
    return model, losses, time.perf_counter() - start


def fit_in_workers(jobs: list[dict], workers: int) -> list[tuple[ConditionalDenoiser, list[float], float]]:
    """``fit(**job)`` for each job (its model built, and seeded, by the caller), with each fit's seconds; on the
    CPU over ``workers`` processes. The book's networks train on one thread each (``alignbook.threads``), so
    independent trainings side by side use a second core that threads inside one small network would mostly
    leave waiting; each fit seeds its own generator, so the results match a run in this process. On another
    device, or with one worker, the jobs run here one after another (training the jobs' models in place, where
    a worker trains a copy: use the models returned)."""
    on_cpu = all(job["target"].device.type == "cpu" and job["data"].device.type == "cpu" for job in jobs)
    if workers <= 1 or len(jobs) <= 1 or not on_cpu:
        return [_timed_fit(job) for job in jobs]
    from alignbook.workers import map_pickled

    return map_pickled("alignbook.scattering.train:_timed_fit", [(job,) for job in jobs], workers)


@torch.no_grad()
def predict(model: ConditionalDenoiser, data: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Deterministic predictions (B, n, n) in normalised units."""
    parts = [model.predict(model.latents(data[i:i + batch]))[:, 0] for i in range(0, len(data), batch)]
    return torch.cat(parts)


@torch.no_grad()
def posterior(model: ConditionalDenoiser, data: torch.Tensor, samples: int, steps: int, seed: int,
              batch: int = 16, schedule: TangentSchedule | None = None,
              progress: Callable | None = None) -> torch.Tensor:
    """``samples`` posterior draws for every data item: (samples, B, n, n) in normalised units."""
    schedule = schedule or TangentSchedule()
    generator = torch.Generator().manual_seed(seed)
    starts = range(0, len(data), batch)
    if progress is not None:
        starts = progress(starts, total=len(starts), desc="sampling")
    return torch.cat([sample(model, schedule, data[i:i + batch], samples, steps, generator) for i in starts], dim=1)
