"""PPO-Lagrangian (Ray, Achiam & Amodei 2019; SafePO's ppo_lag): PPO on the Lagrangian's advantage

A = (A_r - lambda A_c) / (1 + lambda),   lambda <- max(0, lambda + Adam step on -(J_c - d) * lambda)

with lambda updated once per epoch from the mean episode cost, before the policy update.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo import PPO, PPOConfig
from alignbook.saferl.config import LagrangeConfig, register


@dataclass(frozen=True)
class PPOLagConfig(PPOConfig, LagrangeConfig):
    pass


@register("ppo_lag")
class PPOLag(PPO):
    Config = PPOLagConfig
    multiplier = "lagrange"
