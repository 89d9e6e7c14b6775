"""DDPG (Lillicrap et al. 2016): a deterministic actor mu(s) in [-1, 1] (tanh output) ascending one reward
critic, Q(s, mu(s)); exploration by Gaussian noise (sd 0.1) on the action; the critic's target uses the target
actor, a' = mu'(s'). OmniSafe's defaults: 25,000 random steps, policy delay 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from alignbook.saferl.config import register
from alignbook.saferl.networks import mlp
from alignbook.saferl.offpolicy.base import OffPolicy, OffPolicyConfig, task_sections


@dataclass(frozen=True)
class DDPGConfig(OffPolicyConfig):
    pass


class DeterministicActor(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.net = mlp((obs_dim, *hidden, act_dim), activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


@register("ddpg")
class DDPG(OffPolicy):
    Config = DDPGConfig
    task_overrides = task_sections(None)

    def build_actor(self, obs_dim, act_dim, hidden, activation):
        return DeterministicActor(obs_dim, act_dim, hidden, activation)

    def act(self, obs, deterministic):
        return self.actor(obs)

    def target_action(self, next_obs):
        return self.target_actor(next_obs), torch.zeros(())

    def actor_objective(self, obs):
        action = self.actor(obs)
        return self.critics[0](obs, action), self.cost_critic(obs, action)
