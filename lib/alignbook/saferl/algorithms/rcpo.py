"""Reward constrained policy optimisation (Tessler, Mankowitz & Mannor 2019): the cost is folded into the
reward with a multiplier learned on a slower timescale, r - lambda c; here as OmniSafe does, on top of the
natural policy gradient, with the advantage A_r - lambda A_c (the penalised reward's advantage, unrescaled).
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.natural_pg import NaturalPG
from alignbook.saferl.config import LagrangeConfig, TrustRegionConfig, register


@dataclass(frozen=True)
class RCPOConfig(TrustRegionConfig, LagrangeConfig):
    pass


@register("rcpo")
class RCPO(NaturalPG):
    Config = RCPOConfig

    multiplier = "lagrange"

    def advantage(self, batch):
        return batch.adv_r - self.penalty * batch.adv_c
