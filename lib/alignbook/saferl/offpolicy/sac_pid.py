"""SACPID: SAC on the PID-Lagrangian, the actor descending (-Q_r + lambda Q_c) / (1 + lambda),
lambda moved by the PID controller (``alignbook.saferl.lagrange.PIDLagrange``)
from the mean cost of the last 10 episodes after every update past the warm-up.
OmniSafe's defaults and its per-task sections for the Safety-Gymnasium navigation tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyPIDConfig, task_sections
from alignbook.saferl.offpolicy.sac import SAC, SACConfig


@dataclass(frozen=True)
class SACPIDConfig(OffPolicyPIDConfig, SACConfig):
    pass


@register("sac_pid")
class SACPID(SAC):
    Config = SACPIDConfig
    multiplier = "pid"
    task_overrides = task_sections("pid", sac=True)
