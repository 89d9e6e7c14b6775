"""TD3PID: TD3 on the PID-Lagrangian, the actor descending (-Q_r + lambda Q_c) / (1 + lambda),
lambda moved by the PID controller (``alignbook.saferl.lagrange.PIDLagrange``)
from the mean cost of the last 10 episodes after every update past the warm-up.
OmniSafe's defaults and its per-task sections for the Safety-Gymnasium navigation tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyPIDConfig, task_sections
from alignbook.saferl.offpolicy.td3 import TD3, TD3Config


@dataclass(frozen=True)
class TD3PIDConfig(OffPolicyPIDConfig, TD3Config):
    pass


@register("td3_pid")
class TD3PID(TD3):
    Config = TD3PIDConfig
    multiplier = "pid"
    task_overrides = task_sections("pid")
