"""TRPO-Lagrangian (Ray et al. 2019): TRPO on the Lagrangian advantage (A_r - lambda A_c) / (1 + lambda),
lambda learned by the same Adam-on-lambda multiplier as PPO-Lag."""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.trpo import TRPO
from alignbook.saferl.config import LagrangeConfig, TrustRegionConfig, register


@dataclass(frozen=True)
class TRPOLagConfig(TrustRegionConfig, LagrangeConfig):
    pass


@register("trpo_lag")
class TRPOLag(TRPO):
    Config = TRPOLagConfig
    multiplier = "lagrange"
