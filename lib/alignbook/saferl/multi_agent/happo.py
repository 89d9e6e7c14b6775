"""HAPPO (Kuba et al. 2022; SafePO's happo): the agents update one after another in a fresh random order each
epoch; agent i_m maximises E[ min(r A M, clip(r, 1 +- eps) A M) ] where M is the product of the ratios of the
agents updated before it (``alignbook.saferl.multi_agent.base``). The sequential update is what makes the joint
improvement monotonic in theory (the multi-agent advantage decomposition). Unconstrained.

Defaults: MAPPO's, with SafePO's HAPPO learning rates 5e-4/5e-4.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo import PPO
from alignbook.saferl.config import register
from alignbook.saferl.multi_agent.base import MultiAgent
from alignbook.saferl.multi_agent.mappo import MAPPOConfig


@dataclass(frozen=True)
class HAPPOConfig(MAPPOConfig):
    actor_lr: float = 5e-4
    critic_lr: float = 5e-4


@register("happo")
class HAPPO(MultiAgent):
    Config = HAPPOConfig
    agent_class = PPO
    sequential = True
