"""MACPO (Gu et al. 2023; SafePO's macpo): in the sequential order of HAPPO, each agent takes one CPO step --
the single-agent ``CPO`` learner unchanged (its five cases, the conjugate-gradient natural directions and the
backtracking line search of ``alignbook.saferl.base.TrustRegion``) -- on its factor-weighted reward and cost
surrogates, with the constraint value c = J_c - d of the epoch.

Defaults (SafePO's marl_cfg/macpo): hidden 128 (one hidden layer in upstream, layer_N 1), critic lr 5e-3,
one critic pass over the rollout, target KL 0.01, 10 conjugate-gradient iterations, damping 0.1, line search 10 x 0.5. Deviation: the step is not
capped at norm 0.5 and the line search starts from the full CPO step (upstream: 0.1 x the step).
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.cpo import CPO
from alignbook.saferl.config import TrustRegionConfig, register
from alignbook.saferl.multi_agent.base import MultiAgent


@dataclass(frozen=True)
class MACPOConfig(TrustRegionConfig):
    steps_per_epoch: int = 10_000
    num_envs: int = 10
    hidden: tuple[int, ...] = (128,)
    critic_lr: float = 5e-3
    update_iters: int = 1  # upstream's MACPO makes one pass over the rollout (the others five)
    batch_size: int = 10_000
    target_kl: float = 0.01
    cg_iters: int = 10
    cg_damping: float = 0.1
    line_search_steps: int = 10
    line_search_decay: float = 0.5
    max_grad_norm: float = 10.0
    linear_lr_decay: bool = False


@register("macpo")
class MACPO(MultiAgent):
    Config = MACPOConfig
    agent_class = CPO
    sequential = True
