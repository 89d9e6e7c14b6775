"""DDPGPID: DDPG on the PID-Lagrangian, the actor descending (-Q_r + lambda Q_c) / (1 + lambda),
lambda moved by the PID controller (``alignbook.saferl.lagrange.PIDLagrange``)
from the mean cost of the last 10 episodes after every update past the warm-up.
OmniSafe's defaults and its per-task sections for the Safety-Gymnasium navigation tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyPIDConfig, task_sections
from alignbook.saferl.offpolicy.ddpg import DDPG, DDPGConfig


@dataclass(frozen=True)
class DDPGPIDConfig(OffPolicyPIDConfig, DDPGConfig):
    lambda_init: float = 0.0  # OmniSafe's DDPGPID starts at 0, the other PID variants at 0.001


@register("ddpg_pid")
class DDPGPID(DDPG):
    Config = DDPGPIDConfig
    multiplier = "pid"
    task_overrides = task_sections("pid")
