"""SAC (Haarnoja et al. 2018): a stochastic actor a = tanh(u), u ~ N(m(s), s(s)), maximising
min(Q_1, Q_2)(s, a) - alpha log pi(a|s) with a fixed temperature alpha (OmniSafe: 0.2, no auto-tuning); the
critics' target adds the entropy bonus -alpha log pi(a'|s') with a' drawn from the current actor. Collection
samples from the actor (no added noise). OmniSafe's defaults: 10,000 random steps, policy delay 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from alignbook.saferl.config import register
from alignbook.saferl.networks import mlp
from alignbook.saferl.offpolicy.base import OffPolicy, OffPolicyConfig, task_sections


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    alpha: float = 0.2
    policy_delay: int = 2
    start_learning_steps: int = 10_000


class SquashedGaussianActor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.net = mlp((obs_dim, *hidden, 2 * act_dim), activation)

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(action in (-1, 1), log pi(action|s)); the log-density includes tanh's change of variables,
        log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) written in its numerically stable form."""
        mean, log_std = self.net(obs).chunk(2, -1)
        std = log_std.clamp(-20.0, 2.0).exp()
        u = mean if deterministic else mean + std * torch.randn_like(mean)
        logp = (-0.5 * ((u - mean) / std).pow(2) - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), logp


@register("sac")
class SAC(OffPolicy):
    Config = SACConfig
    task_overrides = task_sections(None, sac=True)
    reward_critics = 2
    explores_with_noise = False

    def build_actor(self, obs_dim, act_dim, hidden, activation):
        return SquashedGaussianActor(obs_dim, act_dim, hidden, activation)

    def act(self, obs, deterministic):
        return self.actor(obs, deterministic)[0]

    def target_action(self, next_obs):
        action, logp = self.actor(next_obs)
        return action, -self.cfg.alpha * logp

    def actor_objective(self, obs):
        action, logp = self.actor(obs)
        q = torch.min(self.critics[0](obs, action), self.critics[1](obs, action))
        return q - self.cfg.alpha * logp, self.cost_critic(obs, action)
