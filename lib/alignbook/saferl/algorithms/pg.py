"""Vanilla policy gradient (Williams 1992; Sutton et al. 2000), in the importance-ratio form SafePO uses.

Loss: -E[ pi(a|s) / pi_old(a|s) * A_r(s, a) ]  -- at the old policy its gradient is E[grad log pi * A_r].
Unconstrained: the cost is measured, never optimised.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.base import FirstOrder
from alignbook.saferl.config import OnPolicyConfig, register


@dataclass(frozen=True)
class PGConfig(OnPolicyConfig):
    update_iters: int = 10


@register("pg")
class PolicyGradient(FirstOrder):
    Config = PGConfig
    loss = "surrogate"

    def actor_loss(self, mb, adv):
        return -(self.ratio(mb) * adv).mean()
