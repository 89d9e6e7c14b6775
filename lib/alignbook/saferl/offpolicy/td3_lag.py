"""TD3Lag: TD3 on the Lagrangian, the actor descending (-Q_r + lambda Q_c) / (1 + lambda),
lambda moved by Adam on lambda (``alignbook.saferl.lagrange.Lagrange``)
from the mean cost of the last 10 episodes after every update past the warm-up.
OmniSafe's defaults and its per-task sections for the Safety-Gymnasium navigation tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyLagrangeConfig, task_sections
from alignbook.saferl.offpolicy.td3 import TD3, TD3Config


@dataclass(frozen=True)
class TD3LagConfig(OffPolicyLagrangeConfig, TD3Config):
    pass


@register("td3_lag")
class TD3Lag(TD3):
    Config = TD3LagConfig
    multiplier = "lagrange"
    task_overrides = task_sections("lagrange")
