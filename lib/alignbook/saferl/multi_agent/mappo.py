"""MAPPO (Yu et al. 2022; SafePO's mappo): every agent takes PPO's clipped update on the shared advantage,
simultaneously, ignoring how the others move. Unconstrained: the multi-agent baseline that ignores cost.

Defaults (SafePO's marl_cfg/mappo): hidden 128x128, 5 epochs over one minibatch of the rollout, clip 0.2,
entropy 0.01, gradient-norm clip 10, actor/critic learning rates 9e-5/5e-3, no KL early stop. Deviation: the
ratio is the joint ratio over an agent's action dimensions (upstream clips each dimension's ratio separately).
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo import PPO, PPOConfig
from alignbook.saferl.config import register
from alignbook.saferl.multi_agent.base import MultiAgent


@dataclass(frozen=True)
class MAPPOConfig(PPOConfig):
    total_steps: int = 10_000_000
    steps_per_epoch: int = 10_000  # 10 environments x 1000 steps
    num_envs: int = 10
    hidden: tuple[int, ...] = (128, 128)
    update_iters: int = 5
    batch_size: int = 10_000  # one minibatch
    actor_lr: float = 9e-5
    critic_lr: float = 5e-3
    entropy_coef: float = 0.01
    max_grad_norm: float = 10.0
    kl_early_stop: bool = False
    linear_lr_decay: bool = False


@register("mappo")
class MAPPO(MultiAgent):
    Config = MAPPOConfig
    agent_class = PPO
    sequential = False
