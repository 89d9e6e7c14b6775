"""The actor-critic: a Gaussian policy, a reward critic V_r and a separate cost critic V_c (three MLPs).

Defaults follow SafePO/OmniSafe: hidden layers (64, 64) with tanh, a state-independent log standard deviation
starting at 0, the critics' outputs scalar. ``act`` runs the actor's mean in NumPy: during a rollout one small
forward per environment step is cheaper without torch's per-call overhead, and the weights do not change until
the next update (``sync`` copies them).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"tanh": (nn.Tanh, np.tanh), "relu": (nn.ReLU, lambda x: np.maximum(x, 0.0))}


def mlp(sizes: tuple[int, ...], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation][0]())
    return nn.Sequential(*layers)


class GaussianActor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.mean = mlp((obs_dim, *hidden, act_dim), activation)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self._activation = activation
        self._numpy: list[tuple[np.ndarray, np.ndarray]] = []
        self.sync()

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mean(obs), self.log_std.exp())

    def log_prob(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """log pi(a|s), summed over action dimensions (written out: cheaper than building a distribution)."""
        mean, log_std = self.mean(obs), self.log_std
        z = (act - mean) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sync(self) -> None:
        """Copy the weights to NumPy for ``act``; call after every update."""
        linears = [m for m in self.mean if isinstance(m, nn.Linear)]
        self._numpy = [(m.weight.detach().cpu().numpy().T.astype(np.float64),
                        m.bias.detach().cpu().numpy().astype(np.float64)) for m in linears]
        self._std = np.exp(self.log_std.detach().cpu().numpy().astype(np.float64))

    def act(self, obs: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Sample (or, with ``rng=None``, the mean action) for a batch of observations, in NumPy."""
        h = obs
        squash = ACTIVATIONS[self._activation][1]
        for i, (w, b) in enumerate(self._numpy):
            h = h @ w + b
            if i < len(self._numpy) - 1:
                h = squash(h)
        if rng is None:
            return h
        return h + self._std * rng.standard_normal(h.shape)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (64, 64), activation: str = "tanh"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.actor = GaussianActor(obs_dim, act_dim, hidden, activation)
        self.reward_critic = mlp((obs_dim, *hidden, 1), activation)
        self.cost_critic = mlp((obs_dim, *hidden, 1), activation)

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.actor.log_std.device)
        return tuple(critic(x).squeeze(-1).double().cpu().numpy() for critic in (self.reward_critic, self.cost_critic))
