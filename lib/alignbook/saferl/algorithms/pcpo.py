"""Projection-based constrained policy optimisation (Yang, Rosca, Narasimhan & Ramadge 2020).

Two steps per epoch: a TRPO reward step within the trust region, then a projection (in the KL metric) back
onto the linearised constraint set c + b^T s <= 0:

    s = sqrt(2 delta / q) x  -  max(0, (sqrt(2 delta / q) r + c) / s_bb) p

(x = F^{-1} g, p = F^{-1} b, q = g^T x, r = g^T p, s_bb = b^T p), followed by the same backtracking line
search as CPO (KL within delta, cost surrogate within the slack).
"""

from __future__ import annotations

import math

from alignbook.saferl.algorithms.cpo import cpo_test
from alignbook.saferl.base import TrustRegion
from alignbook.saferl.config import TrustRegionConfig, register


@register("pcpo")
class PCPO(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        delta, c = self.cfg.target_kl, mean_episode_cost - self.cfg.cost_limit
        adv = self.advantage(batch)
        geo = self.constraint_geometry(batch, adv)
        reward_step = self.natural_step(geo.x, geo.q)  # sqrt(2 delta / q) x
        scale = math.sqrt(2 * delta / (geo.q + 1e-8))
        step = reward_step - max(0.0, (scale * geo.r + c) / (geo.s + 1e-8)) * geo.p
        # Case 1's test: reward may be given up (the projection's job is the constraint), cost may not grow.
        return self.move(batch, adv, geo.old, step, cpo_test(1, c, delta))
