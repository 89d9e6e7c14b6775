"""Proximal policy optimisation (Schulman et al. 2017), the clipped objective:

L^CLIP = E[ min( rho A, clip(rho, 1 - eps, 1 + eps) A ) ],   rho = pi(a|s) / pi_old(a|s),   eps = 0.2

Unconstrained: the book's baseline for what an agent does when nothing holds its cost down.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignbook.saferl.base import FirstOrder
from alignbook.saferl.config import OnPolicyConfig, register


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    clip: float = 0.2


def clipped_surrogate_loss(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """-L^CLIP: the pessimistic (minimum) of the unclipped and clipped objectives, negated for descent."""
    return -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()


@register("ppo")
class PPO(FirstOrder):
    Config = PPOConfig
    loss = "clipped_surrogate"

    def actor_loss(self, mb, adv):
        loss = clipped_surrogate_loss(self.ratio(mb), adv, self.cfg.clip)
        if self.cfg.entropy_coef:
            loss = loss - self.cfg.entropy_coef * self.ac.actor.log_std.sum()  # Gaussian entropy up to a constant
        return loss
