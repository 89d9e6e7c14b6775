"""DDPGLag: DDPG on the Lagrangian, the actor descending (-Q_r + lambda Q_c) / (1 + lambda),
lambda moved by Adam on lambda (``alignbook.saferl.lagrange.Lagrange``)
from the mean cost of the last 10 episodes after every update past the warm-up.
OmniSafe's defaults and its per-task sections for the Safety-Gymnasium navigation tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyLagrangeConfig, task_sections
from alignbook.saferl.offpolicy.ddpg import DDPG, DDPGConfig


@dataclass(frozen=True)
class DDPGLagConfig(OffPolicyLagrangeConfig, DDPGConfig):
    pass


@register("ddpg_lag")
class DDPGLag(DDPG):
    Config = DDPGLagConfig
    multiplier = "lagrange"
    task_overrides = task_sections("lagrange")
