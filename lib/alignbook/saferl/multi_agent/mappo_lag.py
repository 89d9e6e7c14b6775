"""MAPPO-Lag (Gu et al. 2023; SafePO's mappolag): the sequential update of HAPPO on each agent's Lagrangian
advantage (A - lambda A_c) / (1 + lambda), one Lagrange multiplier per agent -- the single-agent family's
``Lagrange`` class, declared by the learner class (PPO-Lag's ``multiplier = "lagrange"``).

Defaults: SafePO's (lr 5e-4/5e-4, initial lambda 0.78); see ``alignbook.saferl.multi_agent.base`` for how the
multiplier's update differs from upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo_lag import PPOLag
from alignbook.saferl.config import LagrangeConfig, register
from alignbook.saferl.multi_agent.base import MultiAgent
from alignbook.saferl.multi_agent.mappo import MAPPOConfig


@dataclass(frozen=True)
class MAPPOLagConfig(MAPPOConfig, LagrangeConfig):
    actor_lr: float = 5e-4
    critic_lr: float = 5e-4
    lambda_init: float = 0.78


@register("mappo_lag")
class MAPPOLag(MultiAgent):
    Config = MAPPOLagConfig
    agent_class = PPOLag
    sequential = True
