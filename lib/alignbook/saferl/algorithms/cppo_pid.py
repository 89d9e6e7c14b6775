"""CPPO-PID (Stooke, Achiam & Abbeel 2020): PPO-Lagrangian whose multiplier is a PID controller on the cost,

lambda = clip(kp * e_P + I + kd * max(0, dJ_c), 0, penalty_max),   e = J_c - d,   I <- max(0, I + ki e)

which removes most of the overshoot and oscillation of integral-only (gradient-ascent) multipliers.
Defaults: OmniSafe's CPPOPID (kp 0.1, ki 0.01, kd 0.01, delay 10, EMA 0.95, penalty max 100).
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo import PPO, PPOConfig
from alignbook.saferl.config import PIDConfig, register


@dataclass(frozen=True)
class CPPOPIDConfig(PPOConfig, PIDConfig):
    pass


@register("cppo_pid")
class CPPOPID(PPO):
    Config = CPPOPIDConfig
    multiplier = "pid"
